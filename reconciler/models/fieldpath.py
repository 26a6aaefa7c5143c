"""Field paths: where a value sits in an agent's spec, and the one grammar that writes them.

A :class:`FieldPath` is a tuple of parts, each a mapping key (``str``) or a list index (``int``).
Its text form joins plain keys with dots and writes indexes in brackets:
``properties.llm.system_messages[0].content``. A key that is not plain (anything but letters,
digits, ``_``, ``$`` and ``-``: dots, brackets, spaces, non-ASCII letters, the empty key) is
quoted as JSON in brackets: ``labels["team.name"]``. :meth:`FieldPath.parse` reads that form back.

Paths are carried as :class:`FieldPath` inside the tool and turned into text only for state,
JSON and rendered output; in a pydantic model a ``FieldPath`` field is written as its text and
read back from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

PathPart = str | int
"""One step of a path: a mapping key or a list index."""

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")
_TOKEN = re.compile(r'\.?([A-Za-z0-9_$-]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


class _Absent:
    """The type of :data:`ABSENT` (one instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
"""What :meth:`FieldPath.get_in` returns where a tree holds nothing at the path."""


def is_plain_key(key: str) -> bool:
    """True when ``key`` is written bare in a path (letters, digits, ``_``, ``$``, ``-``)."""
    return _PLAIN_KEY.fullmatch(key) is not None


def child_text(parent: str, part: PathPart) -> str:
    """The text of the path ``parent`` (already text) extended by ``part``.

    ``child_text("properties", "llm")`` is ``properties.llm``; ``child_text("labels", "a.b")``
    is ``labels["a.b"]``; ``child_text("messages", 0)`` is ``messages[0]``. For walkers that
    keep paths as text keys (source locations) without building a :class:`FieldPath` per node.
    """
    if isinstance(part, int):
        return f"{parent}[{part}]"
    if _PLAIN_KEY.fullmatch(part):
        return f"{parent}.{part}" if parent else part
    return f"{parent}[{json.dumps(part)}]"


class FieldPath(tuple[PathPart, ...]):
    """An immutable path into a tree of mappings and lists; the empty path is the root."""

    __slots__ = ()

    def __new__(cls, parts: Iterable[PathPart] = ()) -> FieldPath:
        return super().__new__(cls, parts)

    @classmethod
    def parse(cls, text: str) -> FieldPath:
        """The path written as ``text`` (the inverse of :meth:`format`).

        Raises ``ValueError`` for text that is not a path.
        """
        parts: list[PathPart] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            # A bare key is the first part, or follows a dot.
            if match is None or (match.group(1) is not None and (text[pos] == ".") != bool(parts)):
                raise ValueError(f"not a field path: {text!r}")
            key, index, quoted = match.groups()
            if key is not None:
                parts.append(key)
            elif index is not None:
                parts.append(int(index))
            else:
                parts.append(str(json.loads(quoted)))
            pos = match.end()
        return cls(parts)

    def format(self) -> str:
        """The text form: ``properties.llm.params.model``, ``labels["team.name"]``."""
        text = ""
        for part in self:
            text = child_text(text, part)
        return text

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"FieldPath({self.format()!r})"

    def child(self, part: PathPart) -> FieldPath:
        """This path extended by one key or index."""
        return FieldPath((*self, part))

    def is_within(self, prefix: FieldPath) -> bool:
        """True when this path is ``prefix`` or lies under it (``a.b[0]`` is within ``a.b``;
        ``a.bc`` is not)."""
        return len(self) >= len(prefix) and self[: len(prefix)] == prefix

    def get_in(self, tree: Any) -> Any:
        """The value at this path in ``tree``, or :data:`ABSENT` where there is none."""
        node = tree
        for part in self:
            node = _child(node, part)
            if node is ABSENT:
                return ABSENT
        return node

    def set_in(self, tree: Any, value: Any) -> bool:
        """Put ``value`` at this path in ``tree`` (in place); True if it was put there.

        The parent must exist: a missing key is added to its mapping, but a list index must
        already exist, and the root itself cannot be replaced.
        """
        if not self:
            return False
        parent = FieldPath(self[:-1]).get_in(tree)
        last = self[-1]
        if isinstance(parent, dict) and isinstance(last, str):
            parent[last] = value
            return True
        if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
            parent[last] = value
            return True
        return False

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """In a model: read from the text form (or a FieldPath), written as the text form."""
        from_text = core_schema.no_info_after_validator_function(
            cls.parse, core_schema.str_schema()
        )
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_text]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls.format, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """A path is a string in JSON."""
        return {"type": "string"}


def _child(node: Any, part: PathPart) -> Any:
    if isinstance(node, dict):
        return node.get(part, ABSENT) if isinstance(part, str) else ABSENT
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return ABSENT
