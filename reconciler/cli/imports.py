"""``reconciler import NAME ID``: take a running engine agent, or a Platform resource, into state
on purpose."""

from __future__ import annotations

import click

from reconciler.cli.context import project_from_context
from reconciler.cli.options import lock_timeout_option, timeout_option
from reconciler.cli.output import note, retry_reporter
from reconciler.cli.runner import run_async
from reconciler.errors import EXIT_OK
from reconciler.project.operations import import_agent


@click.command("import")
@click.argument("name")
@click.argument("agent_id", metavar="ID")
@click.option(
    "--assume-matches",
    is_flag=True,
    help="Record the agent as running its manifest already, so the next plan shows no change "
    "(and, with token: auto, renews its token in place).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Import an agent that another state (another environment or project on this App ID) "
    "started, once that state no longer records it.",
)
@lock_timeout_option
@timeout_option
@click.pass_context
def import_cmd(
    ctx: click.Context,
    name: str,
    agent_id: str,
    assume_matches: bool,
    force: bool,
    lock_timeout: float,
) -> int:
    """Record the running agent ID (or Platform resource ID) in state under manifest NAME.

    With NAME written KIND/NAME (SecretSet/llm_keys, SavedAgent/support, PhoneNumber/line),
    the Platform resource of that id (a set's name, an agent_id, a number_id) is recorded under
    that manifest instead.

    Nothing is started or stopped. Refused unless agents.d declares NAME, the state records
    neither NAME nor ID, and the engine reports the agent ID active in NAME's channel. An agent
    the engine names with another state's tag (another environment or project on this App ID
    started it) is refused unless --force: that state's apply or destroy would stop it too.

    The engine does not say what an agent was started with, so by default the next plan
    restarts the agent onto its manifest (shown for review before anything happens). With
    --assume-matches the manifest is recorded as what it runs and the next plan shows no change:
    use it only when you know the agent was started from this manifest.

    \b
    Examples:
      reconciler import support-en 1NT29X11GQSxxxxxNU80BEIN56XF
      reconciler import --assume-matches support-en 1NT29X11GQSxxxxxNU80BEIN56XF
      reconciler import SavedAgent/support 3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10

    Exit codes: 0 imported, 1 refused (nothing changed) or engine error, 3 state lock held,
    124 the deadline (--timeout) ran out, 130 interrupted (Ctrl-C).
    """
    project = project_from_context(ctx)
    if "/" in name:  # KIND/NAME: a Platform resource
        from reconciler.project.pull import import_resource

        imported = run_async(import_resource(project, name, agent_id, lock_timeout=lock_timeout))
        click.echo(
            f"Imported {imported.record.id} as {imported.record.address}; "
            f"state serial {imported.serial}."
        )
        return EXIT_OK
    outcome = run_async(
        import_agent(
            project,
            name,
            agent_id,
            assume_matches=assume_matches,
            force=force,
            lock_timeout=lock_timeout,
            on_retry=retry_reporter(ctx, project.environ),
        )
    )
    record = outcome.record
    click.echo(
        f"Imported {record.agent_id} as {record.name} (channel {record.channel}); "
        f"state serial {outcome.serial}."
    )
    for warning in outcome.warnings:
        note(f"Note: {warning}")
    return EXIT_OK
