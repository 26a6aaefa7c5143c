"""Finding keys a pydantic model does not know, in raw data of any shape.

The manifest models accept unknown keys (so that ``strict: false`` can keep them); in strict mode
the loader reports them itself with :func:`unknown_keys`, which walks the raw data alongside the
models' field types: into nested models, lists of models and mappings of models, never into
free-form mappings (vendor ``params``, ``headers``, ...).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Union

from pydantic import BaseModel

from reconciler.models.manifest import Manifest


@dataclass(frozen=True)
class UnknownKey:
    """A key the model does not know, at ``parent`` (a tuple of keys and indexes)."""

    parent: tuple[str | int, ...]
    key: str
    known: tuple[str, ...]


_Shape = tuple[str, Any]
"""How to descend: ("model", cls) | ("list", shape) | ("dict", shape) | ("leaf", None)."""


def _shape(annotation: Any) -> _Shape:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        shapes = [_shape(a) for a in typing.get_args(annotation) if a is not type(None)]
        inner = [s for s in shapes if s[0] != "leaf"]
        return inner[0] if len(inner) == 1 else ("leaf", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return ("list", _shape(item))
    if origin is dict:
        _, item = typing.get_args(annotation)
        return ("dict", _shape(item))
    return ("leaf", None)


@cache
def _fields(model: type[BaseModel]) -> dict[str, _Shape]:
    return {
        info.alias or name: _shape(info.annotation) for name, info in model.model_fields.items()
    }


def unknown_keys(data: Any, model: type[BaseModel] = Manifest) -> list[UnknownKey]:
    """Every key in ``data`` (raw, any shape) that ``model`` and its nested models do not know.

    Free-form mappings (vendor ``params``, ``headers``, ...) are not looked into.
    """
    found: list[UnknownKey] = []
    _walk(data, ("model", model), (), found)
    return found


def _walk(data: Any, shape: _Shape, at: tuple[str | int, ...], found: list[UnknownKey]) -> None:
    kind, inner = shape
    if kind == "model" and isinstance(data, dict):
        fields = _fields(inner)
        for key, value in data.items():
            sub = fields.get(key)
            if sub is None:
                found.append(UnknownKey(at, str(key), tuple(fields)))
            elif sub[0] != "leaf":
                _walk(value, sub, (*at, key), found)
    elif kind == "list" and isinstance(data, list):
        for index, value in enumerate(data):
            _walk(value, inner, (*at, index), found)
    elif kind == "dict" and isinstance(data, dict):
        for key, value in data.items():
            _walk(value, inner, (*at, key), found)


def known_keys(model: type[BaseModel], parent: tuple[str | int, ...]) -> tuple[str, ...]:
    """The keys the model at ``parent`` (keys and indexes from ``model``'s root) knows; empty
    when ``parent`` leads to no model."""
    shape: _Shape = ("model", model)
    for part in parent:
        kind, inner = shape
        if kind == "model" and isinstance(part, str):
            shape = _fields(inner).get(part, ("leaf", None))
        elif kind in ("list", "dict"):
            shape = inner
        else:
            return ()
    kind, inner = shape
    return tuple(_fields(inner)) if kind == "model" else ()
