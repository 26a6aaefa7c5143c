"""Validation results for machines: a versioned JSON document and GitHub annotations.

``reconciler validate --format json`` prints :func:`validation_json` (schema in
``docs/validate-format.md``); ``--format github`` prints :func:`github_annotations`, one
``::error file=...,line=...,col=...::message`` workflow command per problem, which GitHub Actions
shows on the offending line of the pull request's diff. For people, :func:`problems_text` prints
each problem with an excerpt of its line and a caret under the column, as rustc and terraform do.
All are pure: they return text or dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from reconciler.errors import Problem, ValidationError

VALIDATE_FORMAT_VERSION = "1.2"
"""Version of the ``validate --format json`` document; the major part changes on a break."""


def validation_json(
    agents: Iterable[tuple[str, str, int]],
    problems: Sequence[Problem],
    unset_variables: Sequence[tuple[str, str]] = (),
    resources: Iterable[tuple[str, str, str, int]] = (),
) -> dict[str, Any]:
    """The result of a validation: the agents (name, path, line) and Platform resources (kind,
    name, path, line) found, and the variables not set (name, a file that reads it), or every
    problem."""
    return {
        "format_version": VALIDATE_FORMAT_VERSION,
        "valid": not problems,
        "unset_variables": sorted({name for name, _path in unset_variables}),
        "unset_variable_files": [
            {"name": name, "path": path} for name, path in sorted(set(unset_variables))
        ],
        "agents": [
            {"name": name, "path": path, "line": line} for name, path, line in sorted(agents)
        ],
        "resources": [
            {"kind": kind, "name": name, "path": path, "line": line}
            for kind, name, path, line in sorted(resources)
        ],
        "problems": [
            {
                "path": p.location.path,
                "line": p.location.line or None,
                "column": p.location.column or None,
                "message": p.message,
            }
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
            if problem.location.column:
                props.append(f"col={problem.location.column}")
        props.append("title=reconciler validate")
        lines.append(f"::error {','.join(props)}::{_data(problem.message)}")
    return "\n".join(lines)


def _data(text: str) -> str:
    """Escape a workflow command's message as the GitHub runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command's property value (also ``:`` and ``,``)."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


MAX_SHOWN = 160
"""Characters of a source line an excerpt shows at most."""


def problems_text(error: ValidationError) -> str:
    """A validation error for people: every problem, each followed by its excerpt."""
    n = len(error.problems)
    lines = [f"{n} problem{'s' if n != 1 else ''} in {error.what}:"]
    for problem in error.problems:
        lines.append(f"  {problem}")
        lines.extend(f"    {line}" for line in caret_lines(problem))
    return "\n".join(lines)


def caret_lines(problem: Problem) -> list[str]:
    """The excerpt of a problem: its line number and line, a caret under the column."""
    if not problem.source:
        return []
    number = str(problem.location.line)
    gutter = " " * len(number)
    shown, offset = _escaped(problem.source, problem.location.column)
    lines = [f"{gutter} |", f"{number} | {shown}"]
    if problem.location.column:
        lines.append(f"{gutter} | {' ' * offset}^")
    return lines


def _escaped(line: str, column: int) -> tuple[str, int]:
    """The line with control characters escaped and cut to :data:`MAX_SHOWN`, and the caret's
    offset in it."""
    out: list[str] = []
    offset = 0
    for position, char in enumerate(line):
        text = " " if char == "\t" else char if char.isprintable() else f"\\x{ord(char):02x}"
        if position < column - 1:
            offset += len(text)
        out.append(text)
    shown = "".join(out)
    if len(shown) > MAX_SHOWN:
        shown = shown[:MAX_SHOWN] + "..."
    return shown, min(offset, MAX_SHOWN)
