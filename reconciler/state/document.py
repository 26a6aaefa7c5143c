"""The state document as both backends keep it: a fresh one, its canonical text, and why a
stored one does not fit the model.

:func:`new_state` is the document of a state nobody has written yet (a new lineage and salt).
:func:`dump_state` is the canonical text of a document: sorted keys, two-space indent, UTF-8,
trailing newline, so that git diffs of a local state file stay small; ``state show`` and
``state pull`` print it, whatever the backend. :class:`StateText` gives the same text while
remembering each record's, for a store that rewrites a large document after every action.
:func:`describe_validation` says what in a stored document does not fit the model, without the
values (a state holds digests of secrets), and, given the document's text, on which line.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import uuid4

from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import printable
from reconciler.models.state import AgentRecord, JournalEntry, StateDoc

__all__ = ["StateText", "describe_validation", "dump_state", "new_state"]

_MAX_LISTED_PROBLEMS = 10


def new_state() -> StateDoc:
    """A fresh, empty state document with a new lineage and a new random salt."""
    return StateDoc(lineage=str(uuid4()), serial=0, salt=secrets.token_hex(16))


def dump_state(doc: StateDoc) -> str:
    """The canonical text of a state document: sorted keys, indent 2, trailing newline."""
    return StateText().dump(doc)


def _pretty(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)``, several times faster.

    With ``indent`` the standard library encodes in pure Python, generator by generator; this
    builds the same text directly for the JSON types a state holds (strings through the C
    string encoder), and leaves anything else to ``json.dumps``.
    """
    try:
        return _indented(value, "\n")
    except _Unusual:
        return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


class _Unusual(Exception):
    """A value :func:`_indented` leaves to ``json.dumps`` (a non-string key, another type)."""


_encode_str = json.encoder.encode_basestring  # C when available; as with ensure_ascii=False


def _indented(value: Any, newline: str) -> str:
    """The indented JSON of ``value`` whose lines start with ``newline`` (a line break, spaces)."""
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value in (_INFINITY, -_INFINITY):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    inner = newline + "  "
    if kind is dict:
        if not value:
            return "{}"
        if any(type(key) is not str for key in value):
            raise _Unusual
        parts = [_encode_str(key) + ": " + _indented(value[key], inner) for key in sorted(value)]
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        return "[" + inner + ("," + inner).join(_indented(v, inner) for v in value) + newline + "]"
    raise _Unusual


_INFINITY = float("inf")


class StateText:
    """:func:`dump_state`, remembering the text of every agent record and journal entry.

    ``json.dumps`` with ``indent`` runs in pure Python (the C encoder has no indent), and apply
    writes the whole state after every action: re-encoding every record each time made a
    500-agent apply spend minutes in the encoder. Records and entries are immutable models that
    are replaced, never changed, so the text of each is computed once (kept while the object is
    in the document, keyed by identity) and the document is assembled from the pieces, byte for
    byte what ``json.dumps(doc.model_dump(mode="json"), sort_keys=True, indent=2)`` gives: a
    value nested at depth d is its own indented text with every line break followed by 2 x d
    more spaces (JSON strings hold no raw line breaks).
    """

    _Key = tuple[int, str]

    def __init__(self) -> None:
        self._lines: dict[StateText._Key, tuple[object, str]] = {}

    def _line(
        self,
        item: AgentRecord | JournalEntry,
        name: str | None,
        used: dict[StateText._Key, tuple[object, str]],
    ) -> str:
        """One line of the document, four spaces deep: ``"name": {...}`` or an item ``{...}``."""
        key = (id(item), name or "")
        known = self._lines.get(key)
        if known is not None and known[0] is item:
            line = known[1]
        else:
            text = _pretty(item.model_dump(mode="json")).replace("\n", "\n    ")
            line = f"    {_pretty(name)}: {text}" if name is not None else f"    {text}"
        used[key] = (item, line)
        return line

    def prepare(self, agents: Mapping[str, AgentRecord], names: Iterable[str]) -> None:
        """Make ahead the text of the records ``names`` of ``agents`` (those a write just
        logged), kept until the next :meth:`dump`, which then only joins it."""
        for name in names:
            record = agents.get(name)
            if record is not None:
                self._line(record, name, self._lines)

    def dump(self, doc: StateDoc) -> str:
        used: dict[StateText._Key, tuple[object, str]] = {}
        parts: dict[str, str] = {}
        for key, value in doc.model_dump(mode="json", exclude={"agents", "journal"}).items():
            parts[key] = _pretty(value).replace("\n", "\n  ")
        records = [self._line(doc.agents[name], name, used) for name in sorted(doc.agents)]
        parts["agents"] = "{\n" + ",\n".join(records) + "\n  }" if records else "{}"
        entries = [self._line(entry, None, used) for entry in doc.journal]
        parts["pending"] = "[\n" + ",\n".join(entries) + "\n  ]" if entries else "[]"
        self._lines = used  # forget what the document no longer holds
        body = ",\n".join(f"  {_pretty(key)}: {parts[key]}" for key in sorted(parts))
        return "{\n" + body + "\n}\n"


def describe_validation(exc: PydanticValidationError, text: str | None = None) -> str:
    """A short, value-free account of what does not fit the model; with the document's
    ``text`` (a local state file), each problem also names the line its field is on."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for err in errors[:_MAX_LISTED_PROBLEMS]:
        loc = printable(".".join(str(p) for p in err["loc"])) or "(document)"
        line = _line_of(text, err["loc"]) if text is not None and err["loc"] else None
        parts.append(f"{'' if line is None else f'line {line}: '}{loc}: {err['msg']}")
    more = len(errors) - _MAX_LISTED_PROBLEMS
    if more > 0:
        parts.append(f"and {more} more")
    return "not a valid state document (" + "; ".join(parts) + ")"


_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line (from 1) of the value at ``loc`` (object keys and array indexes) in the JSON
    ``text``, or None where the path leaves it. Only for an error: it decodes the values it
    steps over (at most the whole text once)."""
    pos = 0
    try:
        for step in loc:
            pos = _skip_space(text, pos)
            if isinstance(step, int) and text[pos] == "[":
                pos = _member(text, pos + 1, "]", step)
            elif text[pos] == "{":
                pos = _member(text, pos + 1, "}", str(step))
            else:
                return None
        return text.count("\n", 0, _skip_space(text, pos)) + 1
    except (IndexError, ValueError, LookupError, RecursionError):
        return None


def _member(text: str, pos: int, close: str, step: int | str) -> int:
    """Where the value of member ``step`` (a key, or an index) of the object or array opened
    before ``pos`` begins (LookupError: there is none)."""
    index = 0
    while True:
        pos = _skip_space(text, pos)
        if text[pos] == close:
            raise LookupError(index)
        key: str | None = None
        if close == "}":
            if text[pos] != '"':
                raise ValueError(pos)
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if text[pos] != ":":
                raise ValueError(pos)
            pos += 1
        if (key if close == "}" else index) == step:
            return pos
        _, pos = _DECODER.raw_decode(text, _skip_space(text, pos))
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos += 1
        index += 1


def _skip_space(text: str, pos: int) -> int:
    while text[pos] in _SPACE:
        pos += 1
    return pos
