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
environment that fails (its engine unreachable, its manifests invalid there only, ...) does not
hide the others: its result is its error, in its place, and the others' plans are rendered
beside it (the reviewer sees what was planned and what could not be). When every environment
fails, that is raised: invalid manifests of several environments as one error with every
environment's problems, as ``validate`` reports them (a problem of every environment once, one
of some tagged with their names); any other failure is the first environment's that failed.
An interruption, or an error that is not a :class:`ReconcilerError` (a bug), is raised as it
came, whatever the other environments did. Environments on one App ID and engine whose agents
would meet in one channel with one uid are refused as invalid manifests (``validate`` reports
the same: :func:`~reconciler.manifests.conflicts.shared_rooms`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import Problem, ReconcilerError, ValidationError
from reconciler.manifests.conflicts import shared_rooms
from reconciler.manifests.loader import merged_problems
from reconciler.manifests.settings import shared_states
from reconciler.manifests.shared import SharedLoads
from reconciler.project.project import Hooks, PlanOutcome, Project

__all__ = ["EnvironmentOutcome", "open_environments", "plan_environments"]

EnvironmentOutcome = PlanOutcome | ReconcilerError
"""An environment's plan, or why it could not be made."""


def open_environments(
    directory: Path, config: Path | None, environ: Mapping[str, str], names: Sequence[str]
) -> list[Project]:
    """The project as each of ``names`` sees it; the settings problems of every one raised at
    once as ``validate`` reports them (one of some environments only tagged with their names),
    with two environments naming one state."""
    projects: list[Project] = []
    found: list[tuple[str, Sequence[Problem]]] = []
    for name in names:
        try:
            projects.append(Project.open(directory, config, environ, name))
        except ValidationError as exc:
            found.append((name, exc.problems))
    opened = [(p.settings.environment or "", p.settings) for p in projects]
    problems = [*merged_problems(found, len(names)), *shared_states(opened)]
    if problems:
        raise ValidationError(problems, what=f"{len(names)} environments")
    return projects


async def plan_environments(
    projects: Sequence[Project],
    hooks_for: Callable[[Project], Hooks] | None = None,
    **options: Any,
) -> list[tuple[str, EnvironmentOutcome]]:
    """Plan every project concurrently (``options`` as :meth:`Project.plan` takes them), their
    manifests' loads sharing what they have in common: each environment's plan, or its error
    when some other environment could be planned (see the module's docstring)."""
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
    if len(outcomes) < len(results) or not any(
        isinstance(outcome, PlanOutcome) for _name, outcome in outcomes
    ):
        raise _failure(projects, results)
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


def _failure(projects: Sequence[Project], results: Sequence[object]) -> BaseException:
    """What fails a plan of every environment: an interruption or an unexpected error as it
    came; invalid manifests of several environments as one error with all their problems."""
    failed = [r for r in results if isinstance(r, BaseException)]
    for failure in failed:
        if not isinstance(failure, Exception):  # Ctrl-C, cancellation: as they came
            return failure
    for failure in failed:
        if not isinstance(failure, ReconcilerError):  # a bug: as it came
            return failure
    invalid = [
        (project.settings.environment or "", result)
        for project, result in zip(projects, results, strict=True)
        if isinstance(result, ValidationError)
    ]
    if len(invalid) < 2 or len(invalid) < len(failed):
        return failed[0]
    problems = merged_problems([(name, e.problems) for name, e in invalid], len(projects))
    return ValidationError(problems, what=invalid[0][1].what)
