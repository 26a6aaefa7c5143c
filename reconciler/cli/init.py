"""``reconciler init [DIR]``: scaffold a new project that plans and applies as written."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.context import given_path
from reconciler.errors import EXIT_OK, ReconcilerError
from reconciler.manifests.settings import declared_environments
from reconciler.project.scaffold import scaffold


@click.command("init")
@click.argument("directory", required=False, type=click.Path(path_type=Path), default=None)
@click.option(
    "--action",
    metavar="OWNER/REPO@REF",
    default=None,
    help="Where the CI workflows get reconciler from: its repository and a release tag or "
    "commit (default: the GitHub repository and commit this reconciler was installed from, "
    "when known; else the workflows are not written).",
)
@click.pass_context
def init_cmd(ctx: click.Context, directory: Path | None, action: str | None) -> int:
    """Create reconciler.yaml, agents.d/ with an example agent, .gitignore and CI workflows.

    DIRECTORY defaults to the project directory (-C) or the current one (a relative DIRECTORY
    is relative to -C DIR, as every path). Existing files are never overwritten: they are
    kept and listed. The new project works as written against the
    embedded sandbox. The workflows (plan, apply, drift) work as written once reconciler.yaml
    names the real engine and a PostgreSQL state (their comments say what to change for a
    local state file); they run reconciler's GitHub Action from --action, which installs the
    tool from that repository at that ref, never by name from a package index.

    \b
    Examples:
      reconciler init my-agents && cd my-agents && reconciler plan --env all
      reconciler init --action example-org/reconciler@v0.1.0
      reconciler init            # in an existing repository: adds what is missing

    Exit codes: 0 done (also when every file existed), 1 error.
    """
    obj = ctx.find_root().obj
    base = obj.get("directory") if isinstance(obj, dict) else None
    # DIRECTORY is relative to -C DIR, as every path given on the command line
    target = given_path(ctx, directory) if directory is not None else Path(base or Path.cwd())
    results = scaffold(target, action)
    for item in results:
        if item.outcome == "created":
            click.echo(f"  created  {item.path}")
        elif item.outcome == "skipped":
            click.echo(f"  skipped  {item.path} ({item.note})")
        else:
            click.echo(f"  kept     {item.path} (exists, not changed)")
    click.echo(f"\nNext: {_next_steps(target)}")
    return EXIT_OK


def _next_steps(target: Path) -> str:
    """The commands that validate, plan and apply the project as it now stands: with
    environments (the scaffold's), plan all of them and apply the first."""
    where = "" if target.resolve() == Path.cwd().resolve() else f" -C {target}"
    try:
        environments = declared_environments(target, None)
    except ReconcilerError:  # an unreadable kept file: validate says why
        environments = ()
    if not environments:
        return f"reconciler{where} validate && reconciler{where} plan && reconciler{where} apply"
    return (
        f"reconciler{where} validate && reconciler{where} plan --env all"
        f" && reconciler{where} --env {environments[0]} apply"
    )
