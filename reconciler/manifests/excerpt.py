"""The source line of each located problem, for excerpts with a caret (as rustc prints them).

:func:`with_excerpts` is called once, when a load fails: it reads each file a problem names
(through :func:`reconciler.safefile.read_regular`, as the loader does), keeps the problem's line
in :attr:`~reconciler.errors.Problem.source` and fills in a missing column: the first character
of what the line declares (its key, or its item after ``- ``), where every problem about a key
points.

A secret written in a manifest must not reach an error message through its excerpt: the value of
a secret-like key (:func:`reconciler.models.secrets.is_secret_key`) is replaced by
:data:`HIDDEN`, and so is every line nested under one (a block scalar's lines, a list's items).
In a ``SecretSet`` document every value is a secret whatever its key's name, so there the
``keys:`` mapping (also inside ``overrides:``) is hidden the same way. The userinfo of a URL
(``https://user:password@host``, ``postgresql://app:pw@db/...``) is hidden on any line, and so
is the value of a secret-like query parameter (``?password=``, ``&sslpassword=``): such a URL is
refused, and the excerpt that says so must not show the password. Control characters are
shown escaped, never sent to the terminal.

Lines are cut to :data:`MAX_LINE_CHARS` before anything is matched on them: an excerpt shows far
less (``render/problems.py``), and a megabyte-long line must not make the patterns' scans (which
may backtrack) take quadratic time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from reconciler.errors import Problem
from reconciler.models.platform import SECRET_SET
from reconciler.models.secrets import is_secret_key
from reconciler.safefile import read_regular

HIDDEN = "<hidden>"
"""What an excerpt shows in place of a secret-like value."""
MAX_EXCERPT_FILE_BYTES = 4 * 1024 * 1024
"""Files larger than this get no excerpt (the problem is still reported)."""
MAX_LINE_CHARS = 1000
"""Characters of a line kept for its excerpt (and scanned for keys)."""
SECRET_SET_VALUES = "keys"
"""The key of a ``SecretSet`` manifest whose values are all secret
(:class:`~reconciler.models.platform.SecretSetManifest`)."""

_KEY_LINE = re.compile(r"^(?P<lead>\s*(?:-\s+)*)(?P<key>[^\s#:][^:#]*?)\s*:(?:\s|$)")
_ANY_KEY = re.compile(r"(?P<key>[\w.\-]+)[\"']?\s*:(?:\s|$)")
_PATH_AT_START = re.compile(r"^(?:[\w\-]+(?:\[\d+\])?\.)*([\w\-]+)(?:\[\d+\])?:")
_QUOTED = re.compile(r"'([\w\-]+)'")
_LEAD = re.compile(r"^\s*(?:-(?:\s+|$))*")
_DOCUMENT_START = re.compile(r"^---(?:\s|$)")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#@\s]+@")
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&](?:[a-z0-9_]*(?:password|passwd|passphrase|secret|token|key))=)[^&#\s\"']*",
    re.IGNORECASE,
)
_SECRET_SET_KIND = re.compile(rf"^kind\s*:\s*[\"']?{SECRET_SET}[\"']?\s*(?:#.*)?$")


def with_excerpts(problems: Sequence[Problem], base: Path) -> list[Problem]:
    """``problems`` with their source line (and a column where none was known); paths are
    relative to ``base`` (the project directory) unless absolute."""
    texts: dict[str, list[str] | None] = {}
    secret_sets: dict[str, list[bool]] = {}
    under: dict[str, list[bool]] = {}
    out: list[Problem] = []
    for problem in problems:
        where = problem.location
        if where.line <= 0:
            out.append(problem)
            continue
        if where.path not in texts:
            texts[where.path] = _lines(base / where.path)
        lines = texts[where.path]
        if lines is None or where.line > len(lines):
            out.append(problem)
            continue
        raw = lines[where.line - 1]
        column = where.column or _key_column(raw, problem.message) or _declared_column(raw)
        if where.path not in secret_sets:
            secret_sets[where.path] = _in_secret_set(lines)
        if where.path not in under:
            under[where.path] = _under_secrets(lines, secret_sets[where.path])
        secret_set = secret_sets[where.path][where.line - 1]
        shown = _masked(lines, where.line - 1, secret_set, under[where.path][where.line - 1])
        out.append(replace(problem, location=replace(where, column=column), source=shown))
    return out


def _lines(path: Path) -> list[str] | None:
    try:
        raw, _ = read_regular(path, MAX_EXCERPT_FILE_BYTES)
    except OSError:
        return None
    return [line[:MAX_LINE_CHARS] for line in raw.decode("utf-8", errors="replace").splitlines()]


def _in_secret_set(lines: list[str]) -> list[bool]:
    """For each line, whether the YAML document holding it declares ``kind: SecretSet``."""
    flags: list[bool] = []
    start = 0
    for index in range(len(lines) + 1):
        if index == len(lines) or (index > start and _DOCUMENT_START.match(lines[index])):
            found = any(_SECRET_SET_KIND.match(line) for line in lines[start:index])
            flags.extend([found] * (index - start))
            start = index
    return flags


def _key_column(line: str, message: str) -> int:
    """1-based column of the key a message names (``properties.idle_timeout: ...``, ``'x'``)
    when the line holds it, e.g. inside a flow mapping; 0 otherwise."""
    named = [*_PATH_AT_START.findall(message), *_QUOTED.findall(message)]
    for key in named:
        found = re.search(rf"(?<![\w\-]){re.escape(key)}[\"']?\s*:(?:\s|$)", line)
        if found:
            return found.start() + 1
    return 0


def _declared_column(line: str) -> int:
    """1-based column of what a line declares: after its indentation and any ``- `` marks."""
    lead = _LEAD.match(line)
    start = lead.end() if lead else 0
    return start + 1 if start < len(line) else 0


def _masked(lines: list[str], index: int, secret_set: bool, under_secret: bool) -> str:
    """Line ``index``, its value hidden if it is under (``under_secret``, from
    :func:`_under_secrets`) or is a secret-like key, or, in a ``SecretSet`` document
    (``secret_set``), under or is its ``keys:``."""
    line = lines[index]
    for match in _ANY_KEY.finditer(line):  # a flow mapping may hold a secret mid-line
        if _hides(match.group("key"), secret_set):
            return line[: match.end()].rstrip() + " " + HIDDEN
    if under_secret:
        lead = _LEAD.match(line)
        return (line[: lead.end()] if lead else "") + HIDDEN
    line = _USERINFO.sub(rf"\g<scheme>{HIDDEN}@", line)
    return _SECRET_PARAM.sub(rf"\g<name>{HIDDEN}", line)


def _hides(key: str, secret_set: bool) -> bool:
    """Whether the value of ``key`` is hidden (in a ``SecretSet`` document: ``secret_set``)."""
    return is_secret_key(key) or (secret_set and key == SECRET_SET_VALUES)


def _under_secrets(lines: list[str], secret_sets: list[bool]) -> list[bool]:
    """For each line, whether it is nested under a key whose value is hidden (:func:`_hides`;
    ``secret_sets``: whether the line's document is a ``SecretSet``), by indentation.

    One pass over the file: the key lines that enclose the current line are kept as a stack
    (shallowest first), each with whether it or a key above it hides its value, for both kinds
    of document. Scanning up from every line with a problem took time quadratic in the file's
    length (a file of 500,000 one-line documents, each a problem, did not finish).
    """
    # (depth, hidden in a document of another kind, hidden in a SecretSet document)
    stack: list[tuple[int, bool, bool]] = []
    found: list[bool] = []
    for index, text in enumerate(lines):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            found.append(_enclosed(stack, _indent(text), secret_sets[index]))
            continue
        depth = _indent(text)
        found.append(_enclosed(stack, depth, secret_sets[index]))
        match = _KEY_LINE.match(text)
        if match is None:
            continue
        while stack and stack[-1][0] >= depth:
            stack.pop()
        key = match.group("key").strip("'\"")
        above = stack[-1] if stack else (0, False, False)
        stack.append((depth, above[1] or _hides(key, False), above[2] or _hides(key, True)))
    return found


def _enclosed(stack: list[tuple[int, bool, bool]], depth: int, secret_set: bool) -> bool:
    """Whether a line at ``depth`` lies under a hiding key of ``stack``: the deepest key line
    above it that is shallower than it decides (its flag covers the keys above it)."""
    for entry in reversed(stack):
        if entry[0] < depth:
            return entry[2] if secret_set else entry[1]
    return False


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


__all__ = ["HIDDEN", "MAX_LINE_CHARS", "with_excerpts"]
