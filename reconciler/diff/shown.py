"""Field changes as plans and drift reports show them, and drift made outside a resource.

:func:`shown_changes` turns :func:`~reconciler.diff.changes.field_changes` into the
:class:`~reconciler.models.plan.FieldChange` values a plan or a drift report carries (a
sensitive value never carried, only its path). :func:`outside_changes` compares a recorded
resource's spec with the engine's version of it (as its kind observed it, in state's terms) and
lists what was changed outside: the one rule ``plan`` (its ``changed outside``) and ``drift``
(its ``changed`` items) share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.diff.changes import field_changes
from reconciler.diff.redact import SENSITIVE_MARKER, digest_value, is_redacted, unknown_names
from reconciler.models.fieldpath import FieldPath
from reconciler.models.plan import FieldChange


def shown_changes(
    before: Any,
    after: Any,
    forces: Callable[[FieldPath], bool] | None = None,
    *,
    with_unknown: bool = False,
) -> tuple[FieldChange, ...]:
    """The changes from ``before`` to ``after``: ``forces`` (a kind's ``forces_replacement``)
    marks those that cannot be made in place; ``with_unknown`` names the unset variables a new
    value waits for."""
    return tuple(
        FieldChange(
            path=c.path,
            before=None if c.sensitive else c.before,
            after=None if c.sensitive else c.after,
            before_present=c.before_present,
            after_present=c.after_present,
            sensitive=c.sensitive,
            forces_restart=forces(c.path) if forces is not None else False,
            unknown=unknown_names(c.after) if with_unknown else (),
        )
        for c in field_changes(before, after)
    )


def outside_changes(
    recorded: dict[str, Any], observed: dict[str, Any], salt: str
) -> tuple[tuple[FieldChange, ...], dict[str, Any]]:
    """What differs between state's spec and the engine's (``observed``: the kind's
    ``observe``, changed in place), and ``observed`` redacted like state."""
    observed = redacted_like(observed, recorded, salt)
    if observed == recorded:
        return (), observed
    return shown_changes(recorded, observed), observed


def redacted_like(observed: Any, recorded: Any, salt: str) -> Any:
    """``observed`` with each value that ``recorded`` holds as a digest (a sensitive value the
    engine shows, such as an interpolated instruction) replaced by its digest, so that the two
    compare; changes ``observed`` in place and returns it."""
    if is_redacted(recorded):
        return (
            observed if is_redacted(observed) else {SENSITIVE_MARKER: digest_value(observed, salt)}
        )
    if isinstance(recorded, dict) and isinstance(observed, dict):
        for key, value in recorded.items():
            if key in observed:
                observed[key] = redacted_like(observed[key], value, salt)
    elif isinstance(recorded, list) and isinstance(observed, list):
        for index, value in enumerate(recorded[: len(observed)]):
            observed[index] = redacted_like(observed[index], value, salt)
    return observed
