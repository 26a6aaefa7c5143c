"""``reconciler drift``: how the engine differs from the recorded state (read-only).

Made to run on a schedule in CI: exit 0 when there is no unexpected drift (of agents or of
Platform resources), 2 when there is, 1 on
an error (engine unreachable, bad manifests or settings). It never writes state, takes the
state lock, resolves the journal or creates a file, and it produces nothing that can be applied.
"""

from __future__ import annotations

import click

from reconciler.cli.context import project_from_context
from reconciler.cli.options import output_format_option, timeout_option
from reconciler.cli.output import retry_reporter
from reconciler.cli.readonly import read_only
from reconciler.cli.runner import run_async
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.project.operations import check_drift
from reconciler.render.drift import (
    render_drift_json_text,
    render_drift_markdown,
    render_drift_text,
)

FORMATS = ("text", "markdown", "json")


@read_only()
@click.command("drift")
@output_format_option(
    FORMATS,
    "text for a terminal, markdown for a GitHub issue or step summary, json for machines "
    "(docs/drift-format.md).",
)
@timeout_option
@click.pass_context
def drift_cmd(ctx: click.Context, fmt: str) -> int:
    """Compare the recorded state with the engine's live status.

    Reports, per agent: exited (idle timeout, runtime cap, token expired, failed with the
    engine's message), missing (recorded, unknown to the engine), running unrecorded in a managed
    channel, and running in another channel than recorded. Per Platform resource (secret sets,
    saved agents, phone numbers): missing, changed outside (field by field), and unmanaged in
    use (a number state does not record, routed to a managed agent). Drift is expected when it
    needs no repair (the manifest is gone, so apply stops or deletes it anyway); all other drift
    is unexpected. Needs engine credentials; never writes anything.

    \b
    Examples:
      reconciler drift
      reconciler drift --format markdown >> "$GITHUB_STEP_SUMMARY"
      reconciler drift --format json | jq '.items[] | select(.expected | not)'

    Exit codes: 0 no unexpected drift, 2 unexpected drift, 1 error (engine unreachable,
    no credentials, bad settings, manifests or state), 124 the deadline (--timeout) ran out,
    130 interrupted (Ctrl-C).
    """
    project = project_from_context(ctx)
    report = run_async(check_drift(project, on_retry=retry_reporter(ctx, project.environ)))
    if fmt == "json":
        click.echo(render_drift_json_text(report))
    elif fmt == "markdown":
        click.echo(render_drift_markdown(report), nl=False)
    else:
        click.echo(render_drift_text(report))
    return EXIT_CHANGES if report.has_unexpected else EXIT_OK
