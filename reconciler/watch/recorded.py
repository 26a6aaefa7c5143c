"""An agent as it was last applied, rebuilt from its state record, to heal it with that spec.

``watch --heal-only`` must bring back an always-on agent that exited even while its manifest
holds a change nobody has applied yet; the change is not approved, so the agent is started with
the spec the state records as last applied. The state records that spec *redacted*: every
sensitive value is a salted digest, never the value. :func:`recorded_agent` therefore takes

* every non-sensitive field (the prompt, the vendors, the channel, the uids, ...) from the
  record, exactly as last applied, whatever the manifest says now; and
* every sensitive value (a secret-like key, an interpolated URL) from the current manifest,
  at the same path. Secrets live in the environment, not in the reviewed manifest, and the
  state keeps no copy of them by design. When the current value's digest matches the record,
  the agent is started with exactly its recorded spec; when it does not (the secret was rotated
  in the environment since), the current value is the only one that exists, and an old
  credential is usually revoked anyway, so the current one is used and the caller is told.

An agent whose record has a sensitive path that the manifest no longer has (the pending change
removed or moved it) cannot be rebuilt: :class:`NotRebuildable` says which path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from reconciler.diff import SENSITIVE_MARKER, digest_value, is_redacted, normalize_spec
from reconciler.models import AgentRecord, DesiredAgent, FieldPath
from reconciler.models.fieldpath import ABSENT

__all__ = ["NotRebuildable", "Rebuilt", "recorded_agent"]


class NotRebuildable(Exception):
    """The recorded spec cannot be rebuilt (the message says which value is missing)."""


@dataclass(frozen=True)
class Rebuilt:
    """The agent as last applied, and the sensitive paths whose value changed since."""

    agent: DesiredAgent
    rotated: tuple[FieldPath, ...]
    """Sensitive paths whose current value differs from the recorded one (used as it is now)."""


def recorded_agent(current: DesiredAgent, record: AgentRecord, salt: str) -> Rebuilt:
    """``current``'s agent with ``record``'s spec and its secrets from ``current``.

    Raises :class:`NotRebuildable` when a recorded secret has no value in the manifest now, or
    the manifest's values are not all known (an unset variable).
    """
    if current.unknown:
        names = sorted({n for ns in current.unknown.values() for n in ns})
        raise NotRebuildable(f"variables not set: {', '.join(names)}")
    spec = copy.deepcopy(record.spec)
    spec.pop("token", None)  # the plan's marker of token: auto (record.token_mode says it)
    now = normalize_spec(dict(current.spec))
    sensitive: list[FieldPath] = []
    rotated: list[FieldPath] = []
    for path, marker in _markers(spec, FieldPath()):
        value = path.get_in(now)
        if value is ABSENT:
            raise NotRebuildable(
                f"its recorded {path} has no value in the manifest now, and the state keeps "
                "only a digest of it"
            )
        if digest_value(value, salt) != marker:
            rotated.append(path)
        path.set_in(spec, copy.deepcopy(value))
        sensitive.append(path)
    agent = current.model_copy(
        update={
            "spec": spec,
            "token_mode": record.token_mode,
            "sensitive": frozenset(sensitive),
            "protect": record.protect,
            "on_delete": record.on_delete,
            "restart_policy": record.restart_policy or current.restart_policy,
            "desired": "running",
            "renamed_from": None,
            "lines": {},
        }
    )
    return Rebuilt(agent=agent, rotated=tuple(rotated))


def _markers(tree: Any, path: FieldPath) -> list[tuple[FieldPath, str]]:
    """``(path, digest)`` of every redaction marker in ``tree``."""
    if is_redacted(tree):
        return [(path, str(tree[SENSITIVE_MARKER]))]
    found: list[tuple[FieldPath, str]] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found.extend(_markers(value, path.child(key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found.extend(_markers(value, path.child(index)))
    return found
