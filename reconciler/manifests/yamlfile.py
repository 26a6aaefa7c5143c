"""YAML parsing that remembers where every key and item came from.

:func:`parse_yaml` turns a file's text into its documents. Mappings are :class:`LineDict` and
sequences :class:`LineList`: ordinary ``dict``/``list`` subclasses that also record the file they
came from, the line they start on, and the line of each key (or item). Scalars stay plain Python
values; their line is the line of the key or item that holds them.

What differs from ``yaml.safe_load_all``:

- a key repeated inside one mapping is a :class:`~reconciler.errors.Problem` (PyYAML silently
  keeps the last one);
- dates stay strings (``2024-01-01`` is not turned into a ``datetime.date``), because everything
  here ends up as JSON;
- a syntax error becomes a located :class:`~reconciler.errors.Problem` instead of an exception,
  and the documents before it are still returned.

The loader is built on ``yaml.CSafeLoader`` when libyaml is available (composition runs in C, only
the construction of containers runs in Python) and falls back to ``yaml.SafeLoader`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from reconciler.errors import Location, Problem

_BaseLoader: type[yaml.SafeLoader]
try:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader

MAX_NESTING = 500
"""Deepest nesting of collections accepted. libyaml's composer recurses in C once per level and
overflows the C stack (a segfault, not an exception) past about 20,000 levels."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class LineDict(dict[Any, Any]):
    """A mapping that knows its source file, its start line and the line of each key.

    ``paths`` is ``None`` when every key comes from :attr:`path`; a merged mapping (``extends``)
    records, per key, the file that key came from.
    """

    __slots__ = ("line", "lines", "path", "paths")

    def __init__(self, path: str = "", line: int = 0) -> None:
        super().__init__()
        self.path = path
        self.line = line
        self.lines: dict[Any, int] = {}
        self.paths: dict[Any, str] | None = None

    def key_location(self, key: Any) -> Location:
        """Where ``key`` was written (falls back to the mapping itself)."""
        path = self.paths.get(key, self.path) if self.paths is not None else self.path
        return Location(path, self.lines.get(key, self.line))


class LineList(list[Any]):
    """A sequence that knows its source file, its start line and the line of each item."""

    __slots__ = ("line", "lines", "path")

    def __init__(self, path: str = "", line: int = 0) -> None:
        super().__init__()
        self.path = path
        self.line = line
        self.lines: list[int] = []

    def item_location(self, index: int) -> Location:
        """Where item ``index`` was written (falls back to the sequence itself)."""
        line = self.lines[index] if 0 <= index < len(self.lines) else self.line
        return Location(self.path, line)


@dataclass
class Document:
    """One YAML document of a file: its value and the line it starts on."""

    value: Any
    line: int


@dataclass
class ParsedFile:
    """Every document of one file that parsed, and every problem found while parsing."""

    path: str
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """A safe loader whose containers record lines and whose mappings reject repeated keys."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self.source = source
        self.problems: list[Problem] = []

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """The tag of a node, as PyYAML resolves it, remembered for short plain scalars.

        libyaml calls this back in Python for every scalar. For a plain scalar the answer
        depends on its text alone (this loader has no path resolvers), and keys and short values
        repeat across thousands of manifests, so matching the implicit resolvers' regular
        expressions once per distinct text is enough. Without path resolvers, every other node
        gets its kind's default tag, answered here without PyYAML's generic method.
        """
        if kind is yaml.ScalarNode:
            if not implicit[0]:  # quoted or block scalar: no implicit resolver applies
                return _STR_TAG
            if len(value) <= _MEMO_MAX_LEN:
                tag = _RESOLVED.get(value)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(_RESOLVED) < _MEMO_SIZE:
                        _RESOLVED[value] = tag
                return tag
        elif kind is yaml.MappingNode:
            return _MAP_TAG
        elif kind is yaml.SequenceNode:
            return _SEQ_TAG
        return super().resolve(kind, value, implicit)


_MEMO_MAX_LEN = 64
_MEMO_SIZE = 65536
_RESOLVED: dict[str, str] = {}
"""Plain scalar text -> resolved tag, for :meth:`_LineLoader.resolve`."""
assert not yaml.SafeLoader.yaml_path_resolvers  # resolve() above relies on it


# Dates stay strings: drop the implicit timestamp resolver from this loader only.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _describe_key(key: Any) -> str:
    return repr(key) if isinstance(key, str) else str(key)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict(loader.source, node.start_mark.line + 1)
    yield data
    first_seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=False)
        line = key_node.start_mark.line + 1
        try:
            previous = first_seen.get(key)
        except TypeError:
            raise ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        if previous is None:
            first_seen[key] = line
        else:
            loader.problems.append(
                Problem(
                    Location(loader.source, line, key_node.start_mark.column + 1),
                    f"duplicate key {_describe_key(key)} (first at line {previous})",
                )
            )
    loader.flatten_mapping(node)
    lines = data.lines
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=False)
        try:
            data[key] = loader.construct_object(value_node, deep=False)
        except TypeError:
            raise ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList(loader.source, node.start_mark.line + 1)
    yield data
    data.extend(loader.construct_object(child, deep=False) for child in node.value)
    data.lines = [child.start_mark.line + 1 for child in node.value]


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_LineLoader.add_constructor(_MAP_TAG, _construct_mapping)
_LineLoader.add_constructor(_SEQ_TAG, _construct_sequence)
_LineLoader.add_constructor(_TIMESTAMP_TAG, _construct_timestamp)


def _line_of(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None and getattr(mark, "line", None) is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)
    if isinstance(position, int) and 0 <= position <= len(text):
        return text.count("\n", 0, position) + 1
    return 0


def _column_of(exc: yaml.YAMLError) -> int:
    """The 1-based column a YAML error points at (0 when it has no mark)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    column = getattr(mark, "column", None) if mark is not None else None
    return int(column) + 1 if isinstance(column, int) else 0


def _message_of(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or "syntax error"
        context = f" ({exc.context})" if exc.context else ""
        return f"invalid YAML: {problem}{context}"
    if isinstance(exc, yaml.reader.ReaderError):
        return "invalid YAML: the file contains a character YAML does not allow"
    return "invalid YAML"


FLOW_HINT = '; quote a ${VAR} written inside {...} or [...]: "${VAR}"'


def _flow_hint(exc: yaml.YAMLError, text: str) -> str:
    """A hint for the commonest flow error: ``{key: ${KEY}}``, where a plain value cannot hold
    the ``{`` of an unquoted variable (only when the lines of the error hold ``${``)."""
    context = getattr(exc, "context", None) or ""
    marks = [getattr(exc, name, None) for name in ("context_mark", "problem_mark")]
    found = [getattr(mark, "line", None) for mark in marks]
    lines = [line for line in found if isinstance(line, int)]
    if "flow" not in context or not lines:
        return ""
    spanned = text.splitlines()[min(lines) : max(lines) + 1]
    return FLOW_HINT if any("${" in line for line in spanned) else ""


TAB_HINT = "; a tab indents this line: YAML indents with spaces only"


def _tab_hint(exc: yaml.YAMLError, text: str) -> str:
    """A hint when the line of the error is indented with a tab (PyYAML names it only as "a
    character that cannot start any token", or as a tab that "violates indentation")."""
    line = _line_of(exc, text)
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip(" \t"))]
    return TAB_HINT if "\t" in indent else ""


def _too_deep(text: str) -> int | None:
    """The line where collections nest deeper than :data:`MAX_NESTING`, else None.

    Each level needs an opener (``[``, ``{``, ``-``, ``?``) or one more column of indentation
    than the last, so most texts are cleared by counting; the others are walked as parser
    events (the event parser is iterative: no recursion).
    """
    openers = text.count("[") + text.count("{") + text.count("-") + text.count("?")
    if openers + math.isqrt(2 * len(text)) + 1 <= MAX_NESTING:
        return None
    loader = _BaseLoader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_NESTING:
                    mark = event.start_mark
                    return int(mark.line) + 1 if mark is not None else 0
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return None  # reported by the real parse, which fails at the same event
    finally:
        loader.dispose()
    return None


MAX_NUMBER_CHARS = 1000
"""Longest integer accepted, in characters; also the most decimal digits of its value. Python
refuses to convert integers of more than 4300 digits to or from text, and the conversion of
longer ones (or of ``1:0:0:...`` in base 60) takes time quadratic in their length."""
_INT_LIMIT = 10**MAX_NUMBER_CHARS


class UnreadableNumber:
    """Stands for an integer too long to read, written where a value or key was.

    Parsing goes on, so that the file's other problems are found too; interpolation reports it,
    located, with its path (:func:`reconciler.manifests.interpolate.interpolate_tree`).
    """

    __slots__ = ("length",)

    def __init__(self, length: int) -> None:
        self.length = length

    def __repr__(self) -> str:
        return f"<an integer of {self.length} characters>"

    def problem(self) -> str:
        """What is wrong, for a message that names the place."""
        return f"integer too large (more than {MAX_NUMBER_CHARS} digits); quote it if it is text"


def _unreadable(node: yaml.Node, what: str) -> ConstructorError:
    return ConstructorError(None, None, f"cannot read the value as {what}", node.start_mark)


def _scalar(node: yaml.Node, what: str) -> yaml.ScalarNode:
    if not isinstance(node, yaml.ScalarNode):  # e.g. "!!int [1]"
        raise _unreadable(node, what)
    return node


def _construct_int(loader: _LineLoader, node: yaml.Node) -> int | UnreadableNumber:
    scalar = _scalar(node, "an integer (!!int)")
    text = str(scalar.value)
    if len(text) > MAX_NUMBER_CHARS:
        return UnreadableNumber(len(text))
    try:
        value: int = yaml.constructor.SafeConstructor.construct_yaml_int(loader, scalar)
    except (ValueError, IndexError):  # only with an explicit !!int tag on something else
        raise _unreadable(node, "an integer (!!int)") from None
    if abs(value) >= _INT_LIMIT:  # 0x... or base 60: few characters, a huge value
        return UnreadableNumber(len(text))
    return value


def _construct_float(loader: _LineLoader, node: yaml.Node) -> float:
    try:
        value: float = yaml.constructor.SafeConstructor.construct_yaml_float(
            loader, _scalar(node, "a number (!!float)")
        )
    except (ValueError, IndexError):
        raise _unreadable(node, "a number (!!float)") from None
    return value


def _construct_bool(loader: _LineLoader, node: yaml.Node) -> bool:
    try:
        value: bool = yaml.constructor.SafeConstructor.construct_yaml_bool(
            loader, _scalar(node, "true or false (!!bool)")
        )
    except KeyError:
        raise _unreadable(node, "true or false (!!bool)") from None
    return value


_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_LineLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"


_SHARED_MAX_LEN = 64
_SHARED_SIZE = 65536
_SHARED: dict[str, str] = {}
"""One string object per distinct short mapping key and text value read in this process.

Thousands of manifests repeat the same keys (``properties``, ``vendor``) and many values
(``microsoft``, ``gpt-4o-mini``); each parse made a new string of each, which the agents then
held (a seventh of the memory of 5,000 loaded agents, measured). Shared here, they are one
object each in this process, and once per batch sent back by a worker process (pickle writes a
shared object once). Only text written in the manifests is kept, never an interpolated value.
"""


class _Unusual(Exception):
    """The fast construction met something only the generic constructor handles."""


def _construct(loader: _LineLoader, node: yaml.Node) -> Any:
    """One document's value: the fast path below, else PyYAML's generic construction.

    The fast path builds the same :class:`LineDict`/:class:`LineList` tree straight from the
    composed nodes, without the generic constructor's per-node bookkeeping (which cost as much as
    the parsing in C). It handles plain mappings, sequences and the core scalar tags; anything
    else (anchors and aliases, merge keys, complex keys, other tags, or any error) makes it give up
    and the document is constructed again by the generic path, so results and errors are the same.
    """
    problems: list[Problem] = []
    try:
        value = _fast(loader, node, set(), problems)
    except Exception:  # _Unusual, RecursionError, or an error the generic path reports its way
        return loader.construct_document(node)
    loader.problems.extend(problems)
    return value


def _fast(loader: _LineLoader, node: yaml.Node, seen: set[int], problems: list[Problem]) -> Any:
    tag = node.tag
    kind = type(node)
    if kind is yaml.ScalarNode:
        if tag == _STR_TAG:
            return node.value
        if tag == _INT_TAG:
            return _construct_int(loader, node)
        if tag == _FLOAT_TAG:
            return _construct_float(loader, node)
        if tag == _BOOL_TAG:
            return _construct_bool(loader, node)
        if tag == _NULL_TAG:
            return None
        if tag == _TIMESTAMP_TAG:
            return str(node.value)
        raise _Unusual
    if tag == _MAP_TAG and kind is yaml.MappingNode:
        if id(node) in seen:
            raise _Unusual
        seen.add(id(node))
        source = loader.source
        data = LineDict(source, node.start_mark.line + 1)
        lines = data.lines
        keys: list[Any] = []
        first_seen: dict[Any, int] = {}
        shared = _SHARED
        for key_node, _ in node.value:  # keys first, as the generic constructor reports them
            key_tag = key_node.tag
            if key_tag == _STR_TAG:
                key = key_node.value
                if len(key) <= _SHARED_MAX_LEN and len(shared) < _SHARED_SIZE:
                    key = shared.setdefault(key, key)
            elif key_tag == _MERGE_TAG or type(key_node) is not yaml.ScalarNode:
                raise _Unusual
            else:
                key = _fast(loader, key_node, seen, problems)
            line = key_node.start_mark.line + 1
            previous = first_seen.get(key)  # TypeError (unhashable): the generic path says so
            if previous is None:
                first_seen[key] = line
            else:
                problems.append(
                    Problem(
                        Location(source, line, key_node.start_mark.column + 1),
                        f"duplicate key {_describe_key(key)} (first at line {previous})",
                    )
                )
            keys.append(key)
        scalar = yaml.ScalarNode
        for key, (key_node, value_node) in zip(keys, node.value, strict=True):
            if type(value_node) is scalar and value_node.tag == _STR_TAG:  # the common leaf
                text = value_node.value
                if len(text) <= _SHARED_MAX_LEN and len(shared) < _SHARED_SIZE:
                    text = shared.setdefault(text, text)
                data[key] = text
            else:
                data[key] = _fast(loader, value_node, seen, problems)
            lines[key] = key_node.start_mark.line + 1
        return data
    if tag == _SEQ_TAG and kind is yaml.SequenceNode:
        if id(node) in seen:
            raise _Unusual
        seen.add(id(node))
        items = LineList(loader.source, node.start_mark.line + 1)
        scalar = yaml.ScalarNode
        for child in node.value:
            if type(child) is scalar and child.tag == _STR_TAG:  # the common leaf
                items.append(child.value)
            else:
                items.append(_fast(loader, child, seen, problems))
        items.lines = [child.start_mark.line + 1 for child in node.value]
        return items
    raise _Unusual


def parse_yaml(text: str, source: str) -> ParsedFile:
    """Parse every document of ``text``; ``source`` is the path used in locations.

    Never raises for bad input: syntax errors, unsupported tags and repeated keys are returned as
    problems, with the documents that parsed before the first syntax error. Empty documents
    (``---`` with nothing after it, or a file of comments) are skipped.
    """
    parsed = ParsedFile(source)
    deep = _too_deep(text)
    if deep is not None:
        message = f"invalid YAML: nested more than {MAX_NESTING} levels deep"
        parsed.problems.append(Problem(Location(source, deep), message))
        return parsed
    loader = _LineLoader(text, source)
    line = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            value = _construct(loader, node)
            if value is not None:
                parsed.documents.append(Document(value, node.start_mark.line + 1))
    except yaml.YAMLError as exc:
        message = _message_of(exc) + _flow_hint(exc, text) + _tab_hint(exc, text)
        parsed.problems.append(
            Problem(Location(source, _line_of(exc, text), _column_of(exc)), message)
        )
    except RecursionError:
        parsed.problems.append(Problem(Location(source), "invalid YAML: nested too deeply"))
    except (ValueError, TypeError, IndexError, KeyError, OverflowError):
        # A value PyYAML's constructors cannot build and do not report as YAML errors (the
        # scalar constructors above report theirs): located at the document, never a crash.
        message = "invalid YAML: a value cannot be read"
        parsed.problems.append(Problem(Location(source, line), message))
    finally:
        loader.dispose()
    parsed.problems[:0] = loader.problems
    parsed.problems.sort(key=lambda p: p.location.line)
    return parsed


def decode(raw: bytes, source: str) -> tuple[str, list[Problem]]:
    """Decode a file's bytes as UTF-8 (a BOM is allowed); a bad byte is a located problem."""
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return "", [Problem(Location(source, line), "not valid UTF-8 text")]
