"""Environment variable interpolation: ``${VAR}``, ``${VAR:-default}`` and the ``$${`` escape.

Only string *values* are interpolated, never keys. The rules, as in a POSIX shell:

- ``${VAR}`` is the value of ``VAR``; an unset variable is a problem naming the variable (a set
  but empty variable gives the empty string);
- ``${VAR:-default}`` is the value of ``VAR`` if it is set and not empty, else ``default`` (the
  default is taken literally, up to the first ``}``); the paths where a default was taken are
  recorded (:attr:`Interpolated.defaulted`), since a default is a placeholder that only the
  sandbox may receive in a sensitive value (:mod:`reconciler.manifests.defaults`);
- ``$${`` is a literal ``${``; any other ``$`` is literal;
- a ``${`` without its ``}``, or with something other than a variable name in it, is a problem.

:func:`interpolate_tree` also turns the parsed tree (:class:`LineDict`/:class:`LineList`) into
plain ``dict``/``list`` values, records the source location of every path, and reports which
paths were interpolated (most interpolated values are sensitive: see
:mod:`reconciler.models.secrets`). Messages name variables and paths, never values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.manifests.yamlfile import LineDict, LineList, UnreadableNumber, describe_key
from reconciler.models.fieldpath import child_text

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NODES = 200_000
"""A document with more values than this (e.g. an alias bomb) is refused."""


class InterpolationError(ValueError):
    """A reference cannot be resolved; the message names the variable, never a value."""


def interpolate_string(
    text: str,
    environ: Mapping[str, str],
    unset: list[str] | None = None,
    pieces: list[str] | None = None,
    defaulted: list[str] | None = None,
) -> tuple[str, bool]:
    """Resolve every reference in ``text``; return the result and whether any was resolved.

    Raises :class:`InterpolationError` for a malformed reference, and for an unset variable
    unless ``unset`` is given: then its name is appended there and the reference is kept as
    written (the value is unknown, as in a plan made without secrets). ``pieces``, if given,
    receives each value a reference was replaced with (a variable's value or a default): inside
    a sensitive value these are secrets of their own (``https://x.example/v1?key=${KEY}``). The
    name of each variable whose ``:-default`` was taken is appended to ``defaulted`` when given.
    """
    if "$" not in text:
        return text, False
    parts: list[str] = []
    position = 0
    changed = False
    for match in _REFERENCE.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token == "$${":
            parts.append("${")
            continue
        inner = match.group(1)
        if inner is None:
            raise InterpolationError("unterminated '${' (write $${ for a literal ${)")
        name, sep, default = inner.partition(":-")
        if not _NAME.fullmatch(name):
            raise InterpolationError(
                "invalid variable reference: expected ${NAME} or ${NAME:-default}"
                " (write $${ for a literal ${)"
            )
        value = environ.get(name)
        if sep:
            if not value and defaulted is not None:
                defaulted.append(name)
            value = value if value else default
        elif value is None:
            if unset is None:
                raise InterpolationError(f"environment variable '{name}' is not set")
            unset.append(name)
            parts.append(token)
            changed = True
            continue
        parts.append(value)
        if pieces is not None:
            pieces.append(value)
        changed = True
    parts.append(text[position:])
    return "".join(parts), changed


class Locations(Mapping[str, Location]):
    """Source location of every path of a tree, by path text.

    Kept as ``(file, line)`` pairs (or the :class:`~reconciler.errors.Location` of a value
    that has no lines of its own) and made locations only when one is asked for: a manifest
    has a location per key, and most are never looked at (only those of a problem, or the
    lines a plan shows: :meth:`lines_in`).
    """

    __slots__ = ("_pairs",)

    def __init__(self) -> None:
        self._pairs: dict[str, tuple[str, int] | Location] = {}

    def __getitem__(self, path: str) -> Location:
        found = self._pairs[path]
        return found if isinstance(found, Location) else Location(*found)

    def __contains__(self, path: object) -> bool:
        return path in self._pairs

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def lines_in(self, source: str) -> dict[str, int]:
        """The line of every path written in file ``source``."""
        found: dict[str, int] = {}
        for path, pair in self._pairs.items():
            if isinstance(pair, Location):
                if pair.path == source:
                    found[path] = pair.line
            elif pair[0] == source:
                found[path] = pair[1]
        return found


@dataclass
class Interpolated:
    """A tree after interpolation, with where each path came from."""

    value: Any
    interpolated: set[str] = field(default_factory=set)
    """Paths whose string value had at least one reference resolved."""
    failed: set[str] = field(default_factory=set)
    """Paths whose value is unusable: its interpolation failed, or it is a number that cannot be
    used (too large, not finite). Their problems are in :attr:`problems`; validation skips them."""
    pieces: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """For each path in :attr:`interpolated`: the values its references were replaced with."""
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """With unset variables allowed: paths whose value is unknown, and the variables not set."""
    defaulted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Paths whose value took a ``${VAR:-default}`` default, and the variables (unset or empty)."""
    locations: Locations = field(default_factory=Locations)
    """Source location of every path (mappings, sequences and scalars)."""
    problems: list[Problem] = field(default_factory=list)


@lru_cache(maxsize=65536)
def child_path(parent: str, key: str) -> str:
    """The text of the path of ``key`` under ``parent``: ``properties.llm``, ``labels["a.b"]``.

    In the grammar of :class:`~reconciler.models.fieldpath.FieldPath`. Locations are kept by
    path text (they are looked up when a message names a path); cached: thousands of manifests
    share their paths, which are then one string each in memory.
    """
    return child_text(parent, key)


def item_path(parent: str, index: int) -> str:
    """The text of the path of item ``index`` under ``parent`` (``messages[0]``)."""
    return child_text(parent, index)


class _Walker:
    def __init__(
        self, environ: Mapping[str, str], literal: frozenset[str], allow_unset: bool
    ) -> None:
        self.environ = environ
        self.literal = literal
        self.allow_unset = allow_unset
        self.result = Interpolated(None)
        self.nodes = 0
        self.active: set[int] = set()

    def walk(self, value: Any, path: str, where: Location, interpolate: bool) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge
        if isinstance(value, str):
            if not interpolate:
                return value
            unset: list[str] | None = [] if self.allow_unset else None
            pieces: list[str] = []
            defaulted: list[str] = []
            try:
                text, changed = interpolate_string(value, self.environ, unset, pieces, defaulted)
            except InterpolationError as exc:
                self.result.failed.add(path)
                self.result.problems.append(Problem(where, f"{exc} (in {path or 'document'})"))
                return value
            if changed:
                self.result.interpolated.add(path)
                if pieces:
                    self.result.pieces[path] = tuple(pieces)
            if unset:
                self.result.unknown[path] = tuple(dict.fromkeys(unset))
            if defaulted:
                self.result.defaulted[path] = tuple(dict.fromkeys(defaulted))
            return text
        if isinstance(value, bool) or value is None or isinstance(value, int):
            return value
        if isinstance(value, UnreadableNumber):
            self.result.failed.add(path)
            self.result.problems.append(Problem(where, f"{path or 'document'}: {value.problem()}"))
            return None
        if isinstance(value, float):
            if not math.isfinite(value):
                self.result.failed.add(path)
                self.result.problems.append(Problem(where, f"{path}: not a finite number"))
            return value
        if isinstance(value, dict):
            return self._walk_mapping(value, path, where, interpolate)
        if isinstance(value, list):
            return self._walk_sequence(value, path, where, interpolate)
        self.result.problems.append(
            Problem(where, f"{path or 'document'}: unsupported YAML value ({type(value).__name__})")
        )
        return None

    def _enter(self, value: Any, path: str, where: Location) -> bool:
        if id(value) in self.active:
            self.result.problems.append(
                Problem(where, f"{path or 'document'}: recursive YAML alias")
            )
            return False
        self.active.add(id(value))
        return True

    def _walk_mapping(
        self, value: dict[Any, Any], path: str, where: Location, interpolate: bool
    ) -> dict[str, Any] | None:
        if not self._enter(value, path, where):
            return None
        out: dict[str, Any] = {}
        pairs = self.result.locations._pairs
        # LineDict.key_location, inlined: this loop runs for every key of every manifest. A
        # key's location is kept as a (file, line) pair; a Location is made only when a nested
        # value needs one to report a problem at.
        located = isinstance(value, LineDict)
        lines: dict[Any, int] = value.lines if isinstance(value, LineDict) else {}
        paths = value.paths if isinstance(value, LineDict) else None
        source = value.path if isinstance(value, LineDict) else where.path
        line = value.line if isinstance(value, LineDict) else where.line
        literal = self.literal
        for key, item in value.items():
            at_pair: tuple[str, int] | Location = (
                (source if paths is None else paths.get(key, source), lines.get(key, line))
                if located
                else where
            )
            if not isinstance(key, str):
                at = Location(*at_pair) if isinstance(at_pair, tuple) else at_pair
                written = value.written if isinstance(value, LineDict) else None
                shown = describe_key(key, written.get(key) if written else None)
                self.result.problems.append(
                    Problem(at, f"key {shown} in {path or 'document'} must be a string (quote it)")
                )
                continue
            sub = child_path(path, key)
            pairs[sub] = at_pair
            kind = type(item)
            if (
                (kind is str and "$" not in item)
                or kind is int
                or kind is bool
                or item is None
                or (kind is float and math.isfinite(item))
            ):
                # walk() inlined for the common leaves (no reference to resolve): same count.
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    raise _TooLarge
                out[key] = item
                continue
            at = Location(*at_pair) if isinstance(at_pair, tuple) else at_pair
            if kind is LineDict:  # walk()'s dispatch skipped for the common nested mapping
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    raise _TooLarge
                out[key] = self._walk_mapping(item, sub, at, interpolate and sub not in literal)
            else:
                out[key] = self.walk(item, sub, at, interpolate and sub not in literal)
        self.active.discard(id(value))
        return out

    def _walk_sequence(
        self, value: list[Any], path: str, where: Location, interpolate: bool
    ) -> list[Any] | None:
        if not self._enter(value, path, where):
            return None
        out: list[Any] = []
        pairs = self.result.locations._pairs
        locate = value.item_location if isinstance(value, LineList) else None
        for index, item in enumerate(value):
            at = locate(index) if locate is not None else where
            sub = item_path(path, index)
            pairs[sub] = at
            out.append(self.walk(item, sub, at, interpolate))
        self.active.discard(id(value))
        return out


class _TooLarge(Exception):
    pass


def interpolate_tree(
    value: Any,
    environ: Mapping[str, str],
    where: Location,
    literal: frozenset[str] = frozenset(),
    *,
    allow_unset: bool = False,
) -> Interpolated:
    """Interpolate every string value in ``value`` and convert it to plain dicts and lists.

    ``where`` locates the root; ``literal`` names top-level paths left as written (e.g. ``name``).
    Non-string keys, non-JSON values (sets, binary), non-finite floats, recursive aliases, and
    trees of more than :data:`MAX_NODES` values are problems. With ``allow_unset``, an unset
    variable is no problem: the path goes to :attr:`Interpolated.unknown` instead.
    """
    walker = _Walker(environ, literal, allow_unset)
    try:
        walker.result.value = walker.walk(value, "", where, True)
    except _TooLarge:
        walker.result.value = None
        walker.result.problems.append(
            Problem(where, f"document too large (more than {MAX_NODES} values)")
        )
    except RecursionError:
        walker.result.value = None
        walker.result.problems.append(Problem(where, "document nested too deeply"))
    return walker.result
