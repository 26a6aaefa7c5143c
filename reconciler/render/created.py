"""The attributes of a new agent, listed from the spec its plan carries.

A plan holds a new agent as one compact create entry: the normalized, redacted spec it starts
with (``AgentPlan.create_spec``), not a change per attribute. Renderers list the attributes
when they show the agent, one agent at a time, as Terraform lists a resource it creates:
mappings key by key down to their leaves, in key order; a list, an empty mapping and a secret
marker whole, at their own path. A value holding a secret marker is sensitive: it is listed
without its value, and with the unset variables that make it unknown, if any.

:func:`created_fields` is that walk; the JSON renderer turns its fields into change entries, the
text and markdown renderers into change views (``render.common.agent_change_views``), without a
:class:`~reconciler.models.FieldChange` per attribute.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from reconciler.diff import is_redacted, unknown_names
from reconciler.models import FieldPath


class CreatedField(NamedTuple):
    """One attribute of a new agent: its path and text, its value (``None`` when sensitive).

    A named tuple: made once per attribute of every new agent a plan shows (64,000 for a JSON
    plan of 2,000 new agents of ``bench/plan_scale.py``), it is built in less than half the time
    of a frozen dataclass.
    """

    path: FieldPath
    text: str
    value: Any
    sensitive: bool
    unknown: tuple[str, ...]
    """The unset variables that make the value unknown (a plan made without secrets)."""


def created_fields(spec: dict[str, Any]) -> list[CreatedField]:
    """Every attribute of the redacted ``spec`` of a new agent, in path order."""
    out: list[CreatedField] = []
    _walk((), spec, out)
    return out


def _walk(parts: tuple[str, ...], node: dict[str, Any], out: list[CreatedField]) -> None:
    for key in sorted(node):
        value = node[key]
        here = (*parts, key)
        if type(value) in _LEAVES:  # the common case, before the checks of containers below
            out.append(CreatedField(*_path(here), value, False, ()))
        elif isinstance(value, dict) and value and not is_redacted(value):
            _walk(here, value, out)
        elif isinstance(value, (dict, list)) and _holds_marker(value):
            out.append(CreatedField(*_path(here), None, True, unknown_names(value)))
        else:
            out.append(CreatedField(*_path(here), value, False, ()))


_LEAVES = frozenset({str, int, float, bool, type(None)})


@lru_cache(maxsize=4096)
def _path(parts: tuple[str, ...]) -> tuple[FieldPath, str]:
    """The path of ``parts`` and its text (new agents of one project share most of theirs)."""
    path = FieldPath(parts)
    return path, path.format()


def _holds_marker(value: Any) -> bool:
    if isinstance(value, dict):
        return is_redacted(value) or any(_holds_marker(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_marker(v) for v in value)
    return False
