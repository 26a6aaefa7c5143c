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
                    Location(loader.source, line),
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


def _message_of(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or "syntax error"
        context = f" ({exc.context})" if exc.context else ""
        return f"invalid YAML: {problem}{context}"
    if isinstance(exc, yaml.reader.ReaderError):
        return "invalid YAML: the file contains a character YAML does not allow"
    return "invalid YAML"


def parse_yaml(text: str, source: str) -> ParsedFile:
    """Parse every document of ``text``; ``source`` is the path used in locations.

    Never raises for bad input: syntax errors, unsupported tags and repeated keys are returned as
    problems, with the documents that parsed before the first syntax error. Empty documents
    (``---`` with nothing after it, or a file of comments) are skipped.
    """
    parsed = ParsedFile(source)
    loader = _LineLoader(text, source)
    try:
        while loader.check_node():
            node = loader.get_node()
            value = loader.construct_document(node)
            if value is not None:
                parsed.documents.append(Document(value, node.start_mark.line + 1))
    except yaml.YAMLError as exc:
        parsed.problems.append(Problem(Location(source, _line_of(exc, text)), _message_of(exc)))
    except RecursionError:
        parsed.problems.append(Problem(Location(source), "invalid YAML: nested too deeply"))
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
