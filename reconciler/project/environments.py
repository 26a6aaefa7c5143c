"""Every environment of a project at once: ``plan --env all``.

Environments are independent (each has its own settings, state and engine or App ID), so their
plans are made concurrently, each exactly as ``plan --env NAME`` makes it; their engine calls
overlap. What their manifests have in common is read once (:mod:`reconciler.manifests.shared`):
every environment reads the same ``agents.d/``, and a document that says nothing per
environment, read with the same variables and settings, loads the same in each. So the
environments' CPU work (parsing, validating) is done once rather than once per environment.
Each environment still loads with its own variables (a secret renamed by its ``variables:``
is never another environment's) and plans against its own state and engine.

The results keep the order in which ``reconciler.yaml`` declares the environments. An
environment that fails (its engine unreachable, its manifests invalid there only, a variable
only its settings read unset, ...) does not
hide the others: its result is its error, in its place, and the others' plans are rendered
beside it (the reviewer sees what was planned and what could not be). When every environment
fails, each result is still its error (a pull-request comment says, per environment, why the
plan failed); :func:`failure_of_every` is the one error the command then fails with: invalid
manifests of several environments as one error with every environment's problems, as
``validate`` reports them (a problem of every environment once, one of some tagged with their
names); any other failure is the first environment's that failed. An interruption, or an error
that is not a :class:`ReconcilerError` (a bug), is raised as it came, whatever the other
environments did. Environments on one App ID and engine whose agents
would meet in one channel with one uid are refused as invalid manifests (``validate`` reports
the same: :func:`~reconciler.manifests.conflicts.shared_rooms`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError, ValidationError
from reconciler.manifests.conflicts import shared_rooms
from reconciler.manifests.loader import merged_problems
from reconciler.manifests.settings import shared_states
from reconciler.manifests.shared import SharedLoads
from reconciler.project.project import Hooks, PlanOutcome, Project

__all__ = ["EnvironmentOutcome", "failure_of_every", "open_environments", "plan_environments"]

EnvironmentOutcome = PlanOutcome | ReconcilerError
"""An environment's plan, or why it could not be made."""


def open_environments(
    directory: Path,
    config: Path | None,
    environ: Mapping[str, str],
    names: Sequence[str],
    *,
    read_only: bool,
) -> list[tuple[str, Project | ReconcilerError]]:
    """The project as each of ``names`` sees it, or why its settings cannot be read (a variable
    only that environment reads is unset, ...): that environment's outcome, beside the others'.
    Two environments naming one state are refused (a mistake of the settings as a whole,
    located at the second one's line). ``read_only`` as :meth:`Project.open` takes it."""
    opened: list[tuple[str, Project | ReconcilerError]] = []
    for name in names:
        try:
            opened.append(
                (name, Project.open(directory, config, environ, name, read_only=read_only))
            )
        except ReconcilerError as error:
            opened.append((name, error))
    shared = shared_states(
        [(p.settings.environment or "", p.settings) for _n, p in opened if isinstance(p, Project)]
    )
    if shared:
        raise ValidationError(shared, what=f"{len(names)} environments")
    return opened


async def plan_environments(
    projects: Sequence[Project],
    hooks_for: Callable[[Project], Hooks] | None = None,
    **options: Any,
) -> list[tuple[str, EnvironmentOutcome]]:
    """Plan every project concurrently (``options`` as :meth:`Project.plan` takes them), their
    manifests' loads sharing what they have in common: each environment's plan, or its error
    (see the module's docstring; an interruption or a bug is raised)."""
    shared = SharedLoads(len(projects))
    for project in projects:
        project.shared_loads = shared
    try:
        results = await asyncio.gather(
            *(
                project.plan(hooks=hooks_for(project) if hooks_for else None, **options)
                for project in projects
            ),
            return_exceptions=True,
        )
    finally:
        for project in projects:
            project.shared_loads = None
    outcomes: list[tuple[str, EnvironmentOutcome]] = [
        (project.settings.environment or "", result)
        for project, result in zip(projects, results, strict=True)
        if isinstance(result, (PlanOutcome, ReconcilerError))
    ]
    if len(outcomes) < len(results):
        raise _unexpected(results)
    clashes = shared_rooms(
        [
            (name, project.settings, outcome.desired)
            for project, (name, outcome) in zip(projects, outcomes, strict=True)
            if isinstance(outcome, PlanOutcome)
        ]
    )
    if clashes:
        raise ValidationError(clashes, what=f"{len(projects)} environments")
    return outcomes


def _unexpected(results: Sequence[object]) -> BaseException:
    """What is raised as it came: an interruption first, else an unexpected error (a bug)."""
    failed = [r for r in results if isinstance(r, BaseException)]
    for failure in failed:
        if not isinstance(failure, Exception):  # Ctrl-C, cancellation: as they came
            return failure
    return next(f for f in failed if not isinstance(f, ReconcilerError))


def failure_of_every(outcomes: Sequence[tuple[str, EnvironmentOutcome]]) -> ReconcilerError | None:
    """The error a plan of every environment fails with when none could be planned (``None``
    when one was): invalid manifests of several environments as one error with all their
    problems, else the first environment's error."""
    failed = [(name, o) for name, o in outcomes if isinstance(o, ReconcilerError)]
    if not failed or len(failed) < len(outcomes):
        return None
    invalid = [(name, error) for name, error in failed if isinstance(error, ValidationError)]
    if len(invalid) < 2 or len(invalid) < len(failed):
        return failed[0][1]
    if len({error.what for _name, error in invalid}) > 1:  # settings of one, manifests of another
        return failed[0][1]
    problems = merged_problems([(name, e.problems) for name, e in invalid], len(outcomes))
    return ValidationError(problems, what=invalid[0][1].what)
