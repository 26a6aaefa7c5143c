"""``reconciler pull``: manifests for the Platform resources state does not record."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from reconciler.cli.context import project_from_context, writable_path
from reconciler.cli.options import lock_timeout_option, timeout_option
from reconciler.cli.output import note
from reconciler.cli.readonly import read_only
from reconciler.cli.runner import run_async
from reconciler.errors import EXIT_ERROR, EXIT_OK, ReconcilerError
from reconciler.project.pull import pull, record_pulled, record_target_problem


@read_only(unless="record")
@click.command("pull")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write the manifests to this file (e.g. agents.d/pulled.yaml; relative to -C DIR) "
    "instead of stdout.",
)
@click.option("--record", is_flag=True, help="Also record the pulled resources in state.")
@click.option("--auto-approve", is_flag=True, help="Record without asking (with --record).")
@lock_timeout_option
@timeout_option
@click.pass_context
def pull_cmd(
    ctx: click.Context, out: Path | None, record: bool, auto_approve: bool, lock_timeout: float
) -> int:
    """Write manifests for the Platform resources state lacks.

    Secret sets, saved agents and phone numbers made elsewhere (in the console, say).
    Secret sets get ${VAR} placeholders (values are never returned); saved agents their
    configuration (credentials show only their mode: add credential.fields); numbers their
    trunk and route, the routed agent as {ref: SavedAgent/NAME}. With --record they are
    recorded in state too, so the next plan manages them instead of creating them again.

    \b
    Examples:
      reconciler pull --out agents.d/pulled.yaml
      reconciler pull --out agents.d/pulled.yaml --record --auto-approve

    --out never replaces a file: it may hold the manifests of an earlier pull, which state now
    records (without them the next plan would delete those resources). --record needs --out
    naming a manifest file in agents.d, written before anything is recorded. When nothing is
    pulled, no file is written (and nothing recorded).

    Exit codes: 0 done, 1 refused (--out names an existing file) or Platform error, 3 state lock
    held, 124 the deadline (--timeout) ran out, 130 interrupted (Ctrl-C).
    """
    out = writable_path(ctx, out) if out is not None else None
    if out is not None and (out.exists() or out.is_symlink()):
        raise ReconcilerError(
            f"{out} exists; pull writes a new file and never replaces one (it may hold the "
            "manifests of an earlier pull, which the next plan would delete without them): "
            "name another file, e.g. agents.d/pulled-2.yaml"
        )
    project = project_from_context(ctx)
    target_problem = record_target_problem(out, project.settings.agents_path) if record else None
    if target_problem is not None:
        raise ReconcilerError(target_problem)
    if record and not auto_approve:
        if not sys.stdin.isatty():
            note("Error: --record without a terminal needs --auto-approve")
            return EXIT_ERROR
        if not click.confirm("Record the pulled resources in state?", default=False):
            return EXIT_ERROR
    pulled = run_async(pull(project))
    if not pulled.records:
        # An empty file would only make the next pull to that name be refused.
        for line in pulled.notes:
            note(f"Note: {line}")
        unwritten = f"; {out} not written" if out is not None else ""
        note(f"Nothing to pull{unwritten}.")
        return EXIT_OK
    if out is not None and record:
        # Under the lock, the manifests first: recorded without them, the next plan would
        # delete what was recorded.
        with project.lock("pull", lock_timeout):
            _write(out, pulled.text)
            record_pulled(project, pulled)
    elif out is not None:
        _write(out, pulled.text)
    elif pulled.text:
        click.echo(pulled.text, nl=False)
    for line in pulled.notes:
        note(f"Note: {line}")
    done = "recorded in state" if record else "not recorded (--record records them)"
    note(f"Pulled {len(pulled.records)} resource(s); {done}.")
    return EXIT_OK


def _write(out: Path, text: str) -> None:
    """:func:`write_new`, its failures as errors naming ``out``."""
    try:
        write_new(out, text)
    except FileExistsError:
        raise ReconcilerError(f"{out} exists (made meanwhile); nothing written there") from None
    except OSError as exc:
        raise ReconcilerError(f"--out {out}: cannot write there ({exc.strerror})") from None


def write_new(path: Path, text: str) -> None:
    """Write ``text`` to the new file ``path`` whole: a temporary file beside it, then linked
    at ``path`` (:class:`FileExistsError` if a file is there: never replaced), then removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
