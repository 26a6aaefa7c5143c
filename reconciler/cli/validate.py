"""``reconciler validate`` and ``reconciler schema``.

``validate`` loads the settings and every manifest and prints ``N agents valid``; any problem is
raised as a :class:`~reconciler.errors.ValidationError`, which :func:`reconciler.cli.main` prints
on stderr (every problem, one ``path:line: message`` a line) before exiting with status 1.

``schema`` prints the JSON Schema of a manifest (``--partial``: of a partial), as committed in
``docs/manifest.schema.json`` for editors.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.common import desired_agents, project_settings
from reconciler.cli.context import chosen_environment, project_dir
from reconciler.cli.options import output_format_option
from reconciler.cli.output import note
from reconciler.cli.readonly import read_only
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_OK,
    Location,
    Problem,
    ValidationError,
    printable,
)
from reconciler.manifests import manifest_schema
from reconciler.manifests.conflicts import shared_rooms
from reconciler.manifests.environments import ALL
from reconciler.manifests.loader import merged_problems
from reconciler.manifests.settings import declared_environments, shared_states
from reconciler.models import DesiredAgent, DesiredSet
from reconciler.models.resources import DesiredResource
from reconciler.models.settings import Settings
from reconciler.project.rooms import check_other_rooms
from reconciler.render.jsontext import dumps
from reconciler.render.problems import github_annotations, validation_json

VALIDATE_FORMATS = ("text", "json", "github")


@read_only()
@click.command("validate")
@output_format_option(
    VALIDATE_FORMATS,
    "text: a line per problem on stderr; json: one document on stdout "
    "(docs/validate-format.md); github: ::error annotations for GitHub Actions.",
)
@click.pass_context
def validate_cmd(ctx: click.Context, fmt: str) -> int:
    """Check reconciler.yaml and every manifest in agents.d/; report every problem at once.

    Needs no engine and no credentials; writes nothing. A project with environments is
    checked in every one of them (--env NAME: in that one only).

    \b
    Examples:
      reconciler validate
      reconciler validate --format github     # annotations in a GitHub Actions job
      reconciler -C infra/agents validate --format json

    Exit codes: 0 valid, 1 any problem.
    """
    if fmt == "text":
        _validate_text(ctx)
        return EXIT_OK
    try:
        loaded, settings_unset = _load(ctx)
        desired = _union(loaded)
    except ValidationError as exc:
        if fmt == "json":
            click.echo(dumps(validation_json([], exc.problems), indent=2))
        else:
            base = _project_dir(ctx)
            click.echo(github_annotations(exc.problems, lambda p: _repo_path(base, p)))
        return EXIT_ERROR
    unset = unset_variables(desired, settings_unset)
    if fmt == "json":
        found = [(a.name, a.path, a.line) for a in desired.agents.values()]
        resources = [(r.kind, r.name, r.path, r.line) for r in desired.resources.values()]
        click.echo(dumps(validation_json(found, (), unset, resources), indent=2))
    else:
        click.echo(valid_line(desired))
        _note_unset(unset)
    return EXIT_OK


def valid_line(desired: DesiredSet) -> str:
    """``3 agents valid``, or with Platform resources ``3 agents and 3 resources valid``."""
    count, resources = len(desired.agents), len(desired.resources)
    agents = f"{count} agent{'s' if count != 1 else ''}"
    if not resources:
        return f"{agents} valid"
    return f"{agents} and {resources} resource{'s' if resources != 1 else ''} valid"


def unset_variables(
    desired: DesiredSet, settings_unset: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """The variables the settings and the manifests read that are not set (fine for validate,
    not for plan and apply), each with a file that reads it: ``(name, path)``, sorted."""
    found = set(settings_unset)
    for agent in desired.agents.values():
        found.update((n, agent.path) for names in agent.unknown.values() for n in names)
    for resource in desired.resources.values():
        found.update((n, resource.path) for names in resource.unknown.values() for n in names)
    return sorted(found)


def _note_unset(unset: Sequence[tuple[str, str]]) -> None:
    """``Note: 2 variables not set (A in reconciler.yaml; B in agents.d/x.yaml, agents.d/y.yaml)``
    on stderr, in every format (stdout keeps the document or annotations)."""
    files: dict[str, list[str]] = {}
    for name, path in unset:
        files.setdefault(name, []).append(path)
    if files:
        listed = "; ".join(
            f"{printable(name)} in {', '.join(printable(p) for p in paths)}"
            for name, paths in files.items()
        )
        note(
            f"Note: {len(files)} variable{'s' if len(files) != 1 else ''} not set "
            f"({listed}): fine for validate; plan and apply need them."
        )


def _project_dir(ctx: click.Context) -> Path:
    obj = ctx.find_root().obj
    directory = obj.get("directory") if isinstance(obj, dict) else None
    return Path(directory) if directory is not None else Path.cwd()


def _repo_path(project_dir: Path, path: str) -> str:
    """A problem's path as GitHub wants it: relative to the workspace (the current directory)."""
    full = Path(path) if Path(path).is_absolute() else project_dir / path
    try:
        return os.path.relpath(full)
    except ValueError:  # another drive (Windows)
        return str(full)


def _load(
    ctx: click.Context,
) -> tuple[list[tuple[str | None, DesiredSet]], list[tuple[str, str]]]:
    """Each environment's agents (every environment unless one is chosen), and the variables
    the settings read that are not set (with the file); a ValidationError with every problem
    of every environment: a problem found in all of them once, as is; one found in some only
    with their names (``[prod] ...``)."""
    chosen = chosen_environment(ctx)
    if chosen is not None and chosen != ALL:
        settings = project_settings(ctx, allow_unset=True)
        desired = desired_agents(settings)
        check_other_rooms(settings, os.environ, desired)  # as its plan checks them
        return [(chosen, desired)], list(settings.unset_variables)
    directory, config = project_dir(ctx)
    declared = declared_environments(directory, config)
    if not declared:
        settings = project_settings(ctx, allow_unset=True)
        return [(None, desired_agents(settings))], list(settings.unset_variables)
    loaded: list[tuple[str | None, DesiredSet]] = []
    found: list[tuple[str, Sequence[Problem]]] = []
    named: list[tuple[str, Settings]] = []
    for name in declared:
        try:
            settings = project_settings(ctx, name, allow_unset=True)
            named.append((name, settings))
            loaded.append((name, desired_agents(settings)))
        except ValidationError as exc:
            found.append((name, exc.problems))
    what = f"{len(declared)} environment{'' if len(declared) == 1 else 's'}"
    problems = [*merged_problems(found, len(declared)), *shared_states(named)]
    if problems:
        raise ValidationError(problems, what=what)
    clashes = shared_rooms(
        [
            (name, settings, one)
            for (name, settings), (_name, one) in zip(named, loaded, strict=True)
        ]
    )
    if clashes:
        raise ValidationError(clashes, what=what)
    return loaded, [pair for _name, settings in named for pair in settings.unset_variables]


def _union(loaded: list[tuple[str | None, DesiredSet]]) -> DesiredSet:
    """Every environment's agents and resources in one set (each one's first environment's
    version)."""
    if len(loaded) == 1:
        return loaded[0][1]
    agents: dict[str, DesiredAgent] = {}
    resources: dict[str, DesiredResource] = {}
    for _name, desired in loaded:
        for key, agent in desired.agents.items():
            agents.setdefault(key, agent)
        for address, resource in desired.resources.items():
            resources.setdefault(address, resource)
    files = tuple(sorted({f for _name, desired in loaded for f in desired.files}))
    return DesiredSet(
        agents=dict(sorted(agents.items())),
        files=files,
        resources=dict(sorted(resources.items())),
        unmanaged=tuple(sorted({u for _name, desired in loaded for u in desired.unmanaged})),
    )


def _validate_text(ctx: click.Context) -> None:
    loaded, settings_unset = _load(ctx)
    if len(loaded) == 1 and loaded[0][0] is None:
        click.echo(valid_line(loaded[0][1]))
    else:
        for name, one in loaded:
            click.echo(f"{valid_line(one)} in {name}")
    desired = _union(loaded)
    _note_unset(unset_variables(desired, settings_unset))
    if ctx.find_root().obj and ctx.find_root().obj.get("verbose"):
        for name, agent in desired.agents.items():
            click.echo(f"  {printable(name)}  {Location(agent.path, agent.line)}")


@read_only()
@click.command("schema")
@click.option(
    "--partial", is_flag=True, help="Schema of a partial (agents.d/_*): nothing required."
)
def schema_cmd(partial: bool) -> None:
    """Print the JSON Schema of a manifest (for yaml-language-server and other editors).

    \b
    Examples:
      reconciler schema > agents.d/manifest.schema.json
      reconciler schema --partial > agents.d/_base/partial.schema.json

    Exit codes: 0.
    """
    click.echo(json.dumps(manifest_schema(partial=partial), indent=2))
