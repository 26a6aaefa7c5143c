"""``reconciler state show|list|where|push|pull|mv|rm|unprotect|rebind`` and ``force-unlock``.

The state document holds no secret by design (sensitive values are salted digests), so ``state
show`` prints it whole, exactly as stored (for a database, in the local file's format).
``state pull`` and ``state push FILE`` move a state between the project's backend and a local
file (into a PostgreSQL database and back); push refuses another lineage or a lower serial
unless ``--force``, a state of another environment, App ID or engine unless ``--rebind`` (which
records this project's in it: the way to move a state into another environment), and holds the
lock while it writes. ``state mv``, ``state rm`` and
``state unprotect`` edit records by hand and leave the agents running. ``state where`` says where
the state lives; with ``--require-database`` it fails on a local file (a CI job's files are lost
when it ends, so an apply there must write to a database). ``state rebind`` moves a state to the
App ID and engine the settings name, on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import click

from reconciler.cli.common import project_settings
from reconciler.cli.context import given_path, writable_path
from reconciler.cli.globals import SuggestingGroup
from reconciler.cli.options import lock_timeout_option, output_format_option
from reconciler.cli.readonly import read_only, runs_read_only
from reconciler.errors import OperationError, SettingsError, StateError, printable
from reconciler.models.settings import Settings
from reconciler.models.state import StateDoc
from reconciler.render.jsontext import dumps
from reconciler.render.status import (
    RESOURCE_LIST_HEADER,
    STATE_LIST_HEADER,
    resource_list_rows,
    state_list_json,
    state_list_rows,
    table,
)
from reconciler.state import LocalStateStore, StateBackend, dump_state, open_backend
from reconciler.state.binding import StateBinding, rebind, rebound


def _backend(ctx: click.Context) -> StateBackend:
    return open_backend(project_settings(ctx), os.environ, read_only=runs_read_only(ctx))


@click.command("force-unlock")
@click.argument("lock_id")
@click.pass_context
def force_unlock_cmd(ctx: click.Context, lock_id: str) -> None:
    """Remove the state lock LOCK_ID, left by a process that is gone or stuck.

    LOCK_ID is the id printed by the command that found the state locked. The local backend uses
    an OS lock that the kernel releases when its holder dies, so this is rarely needed: it clears
    holder info a killed process left behind, and refuses while the holder is still running.
    With a PostgreSQL state the lock dies with its holder's database session; when that session
    hangs on (a stuck runner), this ends it, which releases the lock.

    \b
    Example:
      reconciler force-unlock 3f2a9c1e

    Exit codes: 0 removed, 1 wrong id or the holder still runs (local state).
    """
    info = _backend(ctx).force_unlock(lock_id)
    click.echo(f"Lock {info.id} removed; it was held by {info.describe()}.")


@click.group("state", cls=SuggestingGroup)
def state_group() -> None:
    """Inspect, locate, edit and move the recorded state (what the tool started and created)."""


@read_only()
@state_group.command("show")
@click.pass_context
def show_cmd(ctx: click.Context) -> None:
    """Print the state document (JSON, exactly as stored).

    \b
    Example:
      reconciler state show | jq '.agents | keys'

    Exit codes: 0 printed, 1 no state or unreadable state.
    """
    store = _backend(ctx).store
    if not store.exists:
        raise StateError(f"no state recorded yet: {store.where} does not exist")
    click.echo(dump_state(store.load()), nl=False)


@read_only()
@state_group.command("where")
@click.option(
    "--require-database",
    is_flag=True,
    help="Exit 1 unless the state is in a database (PostgreSQL) that every run shares.",
)
@click.pass_context
def where_cmd(ctx: click.Context, require_database: bool) -> None:
    """Print where the state lives: its file, or its database (password masked) and state key.

    A CI job's files are lost when it ends: a workflow that applies checks first that the state
    is in a database every run shares (the action does, for apply).

    \b
    Example:
      reconciler state where --require-database

    Exit codes: 0 printed, 1 a local state file with --require-database, or bad settings.
    """
    settings = project_settings(ctx)
    if settings.state_is_database:
        click.echo(f"{settings.state_shown} (state key {settings.effective_state_key})")
        return
    click.echo(str(settings.state_path))
    if require_database:
        raise SettingsError(
            f"the state is a local file ({settings.state_path}), lost when this job ends; "
            "use a database every run shares: state: ${RECONCILER_STATE_URL} in "
            "reconciler.yaml, with the secret RECONCILER_STATE_URL=postgresql://... (or commit "
            "state/ back after every apply and set the action's require-database-state: false)"
        )


@read_only()
@state_group.command("list")
@output_format_option(
    ("text", "json"),
    "text: a table with a header; json: one document (docs/status-format.md).",
)
@click.pass_context
def list_cmd(ctx: click.Context, fmt: str) -> None:
    """Print one row per recorded agent: name, agent id, generation, channel, start time.

    Resources of other kinds follow in a second table: address (KIND/NAME, what state mv and
    state rm take), id, creation time, and a note (protected, an interrupted update, or an
    interrupted create that has no id yet).

    Reads the state only (no engine): `reconciler status` adds what the engine reports now.

    \b
    Examples:
      reconciler state list
      reconciler state list --format json | jq -r '.resources[].id'

    Exit codes: 0 printed, 1 unreadable state.
    """
    store = _backend(ctx).store
    if not store.exists:
        if fmt == "json":
            click.echo(dumps(state_list_json([], 0), indent=2))
        click.echo(f"No state recorded yet ({store.where} does not exist).", err=True)
        return
    doc = store.load()
    records = [record for _, record in sorted(doc.agents.items())]
    resources = [record for _, record in sorted(doc.resources.items())]
    creating = [entry for _, entry in sorted(doc.creating.items())]
    if fmt == "json":
        listed = state_list_json(records, len(doc.journal), resources, creating)
        click.echo(dumps(listed, indent=2))
    else:
        if records:
            click.echo(table(STATE_LIST_HEADER, state_list_rows(records)))
        if resources or creating:
            if records:
                click.echo()
            click.echo(table(RESOURCE_LIST_HEADER, resource_list_rows(resources, creating)))
        if not (records or resources or creating):
            click.echo("No agents recorded.", err=True)
    if doc.journal and fmt == "text":
        n = len(doc.journal)
        click.echo(
            f"{n} engine call{'s' if n != 1 else ''} in flight when a run stopped "
            '(journal entries, under "pending" in `reconciler state show`); the next apply '
            "resolves them.",
            err=True,
        )


@read_only()
@state_group.command("pull")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the state to this file (a local state file; relative to -C DIR) instead of stdout.",
)
@click.pass_context
def pull_cmd(ctx: click.Context, out: Path | None) -> None:
    """Print the project's state (from a database, say) in the local file format.

    \b
    Examples:
      reconciler state pull > agents.json
      reconciler state pull --out state/agents.json

    Exit codes: 0 written, 1 no state, unreadable state or --out exists.
    """
    store = _backend(ctx).store
    if not store.exists:
        raise StateError(f"no state recorded yet: {store.where} does not exist")
    doc = store.load()
    if out is None:
        click.echo(dump_state(doc), nl=False)
        return
    out = writable_path(ctx, out)
    local = LocalStateStore(out)
    if local.exists:
        raise StateError(f"{out} exists already; pull into a new file")
    written = local.replace(doc.model_copy(update={"serial": doc.serial - 1}))
    click.echo(f"Wrote the state (serial {written.serial}) to {out}.", err=True)


@state_group.command("push")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace the state even if it has another lineage or a higher serial.",
)
@click.option(
    "--rebind",
    is_flag=True,
    help="Push a state of another environment, App ID or engine, recording this project's "
    "(--env) in it: the state moves here.",
)
@lock_timeout_option
@click.pass_context
def push_cmd(
    ctx: click.Context, file: Path, force: bool, rebind: bool, lock_timeout: float
) -> None:
    """Replace the project's state with the state file FILE (into a database, say).

    Like ``terraform state push``: refused when the state already recorded belongs to another
    lineage (another project) or has a higher serial (it moved on since FILE was pulled),
    unless --force. A FILE of another environment, App ID or engine is refused even with
    --force; --rebind pushes it and records this project's environment (--env), App ID and
    engine in it, as ``state rebind`` does (the agents it records are then looked for there).
    Holds the state lock while it writes.

    \b
    Examples:
      reconciler state push state/agents.json       # a local state into the database of state:
      reconciler --env prod state push --rebind staging.json   # staging's state becomes prod's

    FILE is relative to -C DIR, as every path given on the command line.

    Exit codes: 0 pushed, 1 refused or unreadable FILE, 3 state lock held.
    """
    file = given_path(ctx, file)
    source = LocalStateStore(file)
    if not source.exists:
        raise StateError(f"{file} is not a state file (it does not exist)")
    doc = source.load()
    backend = _backend(ctx)
    binding = backend.store.binding
    was = doc
    if binding is not None:
        if rebind:
            doc = rebound(doc, binding)
        else:
            binding.check_pushed(doc, str(file))
    with backend.lock("state push", lock_timeout):
        store = backend.store
        current = store.load() if store.exists else None
        if current is not None and not force:
            _check_push(doc, current, store.where)
        written = store.replace(doc)
    moved = ""
    if (was.environment, was.app_id, was.engine) != (doc.environment, doc.app_id, doc.engine):
        moved = f"; it recorded {_bound(was, doc)}, it now records {_bound(written, was)}"
    click.echo(f"Pushed {file} to {store.where} (serial {written.serial}{moved}).", err=True)
    _note_still_declared(project_settings(ctx), was, written)


def _note_still_declared(settings: Settings, was: StateDoc, now: StateDoc) -> None:
    """A note when a state pushed with --rebind stays on its App ID and engine while the
    environment it came from is still declared: both environments may manage its agents."""
    source = was.environment
    if source is None or source == now.environment or source not in settings.environments:
        return
    if (was.app_id or now.app_id, was.engine or now.engine) != (now.app_id, now.engine):
        return  # another App ID or engine: its agents are not where this state looks
    click.echo(
        f"Note: environment {printable(source)} is still declared on this App ID and engine: "
        "if its own state still records these agents, both environments now manage them; "
        f"take them out of it (`reconciler --env {printable(source)} state rm NAME`) before "
        "the next apply of either.",
        err=True,
    )


@state_group.command("rebind")
@lock_timeout_option
@click.pass_context
def rebind_cmd(ctx: click.Context, lock_timeout: float) -> None:
    """Record the project's App ID, engine and environment in its state, whatever it records now.

    Every command refuses a state recorded for another App ID or engine than the settings name,
    whose Platform resources live on another Platform (platform:), or (in a project with
    environments) for another environment than --env (exit 1): used
    there, it would describe agents that are not there. Run this only to move a state on
    purpose (the app, the engine or the environment really changed; with --env NAME the state
    is recorded for environment NAME). The agents it records are then
    looked for on the new App ID and engine: those missing there are started again by the next
    apply, and the old app's agents keep running unmanaged. Holds the state lock while it writes.

    \b
    Example:
      reconciler state rebind

    Exit codes: 0 rebound, 1 no state or unreadable state, 3 state lock held.
    """
    settings = project_settings(ctx)
    backend = open_backend(settings, os.environ)
    with backend.lock("state rebind", lock_timeout):
        store = backend.store
        if not store.exists:
            raise StateError(f"no state recorded yet: {store.where} does not exist")
        before, after = rebind(store, StateBinding.of(settings))
    click.echo(
        f"Rebound the state ({store.where}, serial {after.serial}): it recorded "
        f"{_bound(before, after)}, it now records {_bound(after, before)}.",
        err=True,
    )


def _bound(doc: StateDoc, other: StateDoc | None = None) -> str:
    """What ``doc`` records it belongs to, as a sentence part (its environment when it or
    ``other`` records one)."""
    where = (
        f"App ID {doc.app_id} on engine {doc.engine}"
        if doc.app_id is not None
        else "no App ID or engine (an older state)"
    )
    environments = (doc.environment, other.environment if other is not None else None)
    if any(e is not None for e in environments):
        return f"environment {_shown_environment(doc)}, {where}"
    return where


def _shown_environment(doc: StateDoc) -> str:
    return "none" if doc.environment is None else printable(doc.environment)


def _check_push(doc: StateDoc, current: StateDoc, where: str) -> None:
    if current.lineage != doc.lineage:
        raise StateError(
            f"refusing to push: the state in {where} has another lineage ({current.lineage}, "
            f"the file has {doc.lineage}); it belongs to another project - use --force to "
            "replace it anyway"
        )
    if current.serial > doc.serial:
        raise StateError(
            f"refusing to push: the state in {where} has a higher serial ({current.serial}) than "
            f"the file ({doc.serial}); it changed since the file was made - pull it again, or "
            "use --force to replace it anyway"
        )


# -- state mv / state rm: edit records by hand (the agents keep running) ---------------------


@state_group.command("mv")
@click.argument("old")
@click.argument("new")
@click.option("--force", is_flag=True, help="Move even when the next plan would act on it.")
@lock_timeout_option
@click.pass_context
def mv_cmd(ctx: click.Context, old: str, new: str, force: bool, lock_timeout: float) -> None:
    """Move the record of OLD to NEW; the agent or resource keeps running, with its id.

    OLD and NEW are agent names, or addresses KIND/NAME of the same kind for a resource of
    another kind (SavedAgent/support, the form --target takes; Agent/NAME is the agent NAME).
    For a rename without a restart or a new create: rename it in its manifest, then run this.
    Refused when the next plan would stop or delete it (no manifest declares NEW) or start or
    create a second one (a manifest still declares OLD), or the engine knows the resource by
    its name, unless --force. Always refused: an unknown OLD, a NEW that state records, a move
    to another kind, and an interrupted engine call or create of a previous run (apply settles
    it first); an interrupted update of a resource moves with its record. Records that
    reference OLD are changed to reference NEW. An argument with a '/' is an address: one of an
    unknown kind, or not of the form KIND/NAME, is a usage error.

    \b
    Examples:
      git mv agents.d/support.yaml agents.d/support-en.yaml  # and set name: support-en
      reconciler state mv support support-en
      reconciler state mv SavedAgent/support SavedAgent/helpdesk

    Exit codes: 0 moved, 1 refused or unknown (nothing changed), 3 state lock held.
    """
    from reconciler.cli.context import project_from_context
    from reconciler.cli.output import note
    from reconciler.project.operations import agent_name, move_agent, move_resource_record

    project = project_from_context(ctx)
    target = _edit_target(old, project.kinds, "OLD")
    _edit_target(new, project.kinds, "NEW")
    if target is not None:
        moved = move_resource_record(project, old, new, force=force, lock_timeout=lock_timeout)
        click.echo(
            f"Moved {old} to {new} ({printable(moved.record.id)} stays on the engine); "
            f"state serial {moved.serial}."
        )
        warnings = moved.warnings
    else:
        old_name = agent_name(old)
        new_name = _agent_destination(old_name, new, project.kinds)
        outcome = move_agent(project, old_name, new_name, force=force, lock_timeout=lock_timeout)
        click.echo(
            f"Moved {old_name} to {new_name} (agent {outcome.record.agent_id} keeps running); "
            f"state serial {outcome.serial}."
        )
        warnings = outcome.warnings
    for warning in warnings:
        note(f"Warning: {warning}")


def _agent_destination(old: str, new: str, kinds: Iterable[str]) -> str:
    """The agent name an agent moves to: ``new``, or ``NAME`` for ``Agent/NAME``; a resource's
    address is refused (a move keeps the kind)."""
    from reconciler.project.operations import agent_name, edit_target

    if edit_target(new, kinds) is not None:
        raise OperationError(
            f"cannot move {printable(old)} to {printable(new)}: a move keeps the kind (an Agent "
            "record cannot describe another kind)"
        )
    return agent_name(new)


def _edit_target(text: str, kinds: Iterable[str], param: str) -> str | None:
    """:func:`~reconciler.project.operations.edit_target` of argument ``param``: text that is
    not a well-formed address of a known kind is a usage error (exit 1, as every usage error)."""
    from reconciler.project.operations import edit_target

    try:
        return edit_target(text, kinds)
    except OperationError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{param}'") from None


@state_group.command("rm")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Remove even though a manifest still declares NAME or recorded resources reference it.",
)
@lock_timeout_option
@click.pass_context
def rm_cmd(ctx: click.Context, name: str, force: bool, lock_timeout: float) -> None:
    """Stop managing NAME: drop its record; the agent or resource stays on the engine.

    NAME is an agent name, or an address KIND/NAME for a resource of another kind
    (SavedAgent/support, the form --target takes; Agent/NAME is the agent NAME). Refused while
    a manifest still declares it (the next plan would start or create a second one beside the
    one left), while recorded resources reference it (they are named), while an update of
    it was interrupted and is unsettled, or while it records old resources a replacement
    deposed and has not deleted yet, unless --force (which drops those entries too).
    Always refused: an unknown NAME, and an interrupted engine call or create of a previous
    run (apply settles it first). A NAME with a '/' is an address: one of an unknown kind, or
    not of the form KIND/NAME, is a usage error.

    \b
    Examples:
      git rm agents.d/legacy-bot.yaml
      reconciler state rm legacy-bot
      reconciler state rm PhoneNumber/old-line

    Exit codes: 0 removed, 1 refused or unknown (nothing changed), 3 state lock held.
    """
    from reconciler.cli.context import project_from_context
    from reconciler.cli.output import note
    from reconciler.project.operations import agent_name, forget_agent, forget_resource

    project = project_from_context(ctx)
    if _edit_target(name, project.kinds, "NAME") is not None:
        dropped = forget_resource(project, name, force=force, lock_timeout=lock_timeout)
        click.echo(
            f"Removed {name} from state; {printable(dropped.record.id)} stays on the engine, no "
            f"longer managed; state serial {dropped.serial}."
        )
        warnings = dropped.warnings
    else:
        agent = agent_name(name)
        outcome = forget_agent(project, agent, force=force, lock_timeout=lock_timeout)
        click.echo(
            f"Removed {agent} from state; agent {outcome.record.agent_id} keeps running in "
            f"channel {outcome.record.channel}, no longer managed; state serial {outcome.serial}."
        )
        warnings = outcome.warnings
    for warning in warnings:
        note(f"Warning: {warning}")


@state_group.command("unprotect")
@click.argument("name")
@lock_timeout_option
@click.pass_context
def unprotect_cmd(ctx: click.Context, name: str, lock_timeout: float) -> None:
    """Clear the protection recorded for NAME, so a plan may stop or delete it.

    NAME is an agent name, or an address KIND/NAME for a resource of another kind
    (PhoneNumber/support-line). An agent or resource whose manifest says protect: true is
    recorded as protected: a plan that would stop or delete it because its manifest was removed
    fails, and destroy refuses it without --force. This clears that record (the agent keeps
    running, the resource stays); the next plan may then stop or delete it. A NAME with a '/'
    is an address: one of an unknown kind, or not of the form KIND/NAME, is a usage error.

    \b
    Examples:
      git rm agents.d/legacy-bot.yaml
      reconciler state unprotect legacy-bot
      reconciler state unprotect PhoneNumber/old-line
      reconciler apply

    Exit codes: 0 unprotected, 1 refused (not recorded, or not protected), 3 state lock held.
    """
    from reconciler.cli.context import project_from_context
    from reconciler.cli.output import note
    from reconciler.project.operations import agent_name, unprotect

    project = project_from_context(ctx)
    resource = _edit_target(name, project.kinds, "NAME") is not None
    target = name if resource else agent_name(name)
    done = unprotect(project, target, resource=resource, lock_timeout=lock_timeout)
    what, may = (printable(done.id), "delete") if resource else (f"agent {done.id}", "stop")
    click.echo(
        f"Unprotected {target} ({what}); a plan may now {may} it; state serial {done.serial}."
    )
    for warning in done.warnings:
        note(f"Warning: {warning}")
