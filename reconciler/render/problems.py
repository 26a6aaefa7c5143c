"""Validation results for machines: a versioned JSON document and GitHub annotations.

``reconciler validate --format json`` prints :func:`validation_json` (schema in
``docs/validate-format.md``); ``--format github`` prints :func:`github_annotations`, one
``::error file=...,line=...::message`` workflow command per problem, which GitHub Actions shows
on the offending line of the pull request's diff. Both are pure: they return text or dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from reconciler.errors import Problem

VALIDATE_FORMAT_VERSION = "1.0"
"""Version of the ``validate --format json`` document; the major part changes on a break."""


def validation_json(
    agents: Iterable[tuple[str, str, int]],
    problems: Sequence[Problem],
    unset_variables: Sequence[str] = (),
) -> dict[str, Any]:
    """The result of a validation: the agents found (name, path, line) or every problem."""
    return {
        "format_version": VALIDATE_FORMAT_VERSION,
        "valid": not problems,
        "unset_variables": list(unset_variables),
        "agents": [
            {"name": name, "path": path, "line": line} for name, path, line in sorted(agents)
        ],
        "problems": [
            {"path": p.location.path, "line": p.location.line or None, "message": p.message}
            for p in problems
        ],
    }


def github_annotations(
    problems: Sequence[Problem], path_for: Callable[[str], str] = lambda path: path
) -> str:
    """One ``::error`` workflow command per problem (``path_for`` maps to repository paths)."""
    lines = []
    for problem in problems:
        props = [f"file={_property(path_for(problem.location.path))}"]
        if problem.location.line:
            props.append(f"line={problem.location.line}")
        props.append("title=reconciler validate")
        lines.append(f"::error {','.join(props)}::{_data(problem.message)}")
    return "\n".join(lines)


def _data(text: str) -> str:
    """Escape a workflow command's message as the GitHub runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command's property value (also ``:`` and ``,``)."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
