"""Field-level differences between two normalized, redacted specs, found by DeepDiff.

DeepDiff compares the trees in order (``ignore_order=False``: the order of messages matters) and
always goes deeper instead of reporting a whole mapping or list as replaced
(``threshold_to_diff_deeper=0``), so a list item added, removed or changed is one change at that
item's path (``properties.remote_rtc_uids[2]``, ``properties.llm.system_messages[1].content``).
A secret marker (``{"$sensitive": "sha256:..."}``) is an atom: it is compared whole, by digest,
and never entered. A mapping added or removed is listed leaf by leaf, like any other change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import notpresent
from deepdiff.model import DiffLevel
from deepdiff.operator import BaseOperatorPlus

from reconciler.diff.redact import is_redacted
from reconciler.models.fieldpath import ABSENT, FieldPath


@dataclass(frozen=True)
class RawChange:
    """One difference. ``before``/``after`` are the (redacted) values; absent sides are None."""

    path: FieldPath
    before: Any
    after: Any
    before_present: bool
    after_present: bool
    sensitive: bool


class _SecretAtoms(BaseOperatorPlus):
    """Compares a secret marker whole: one change at the marker's path when the digests differ."""

    def match(self, level: DiffLevel) -> bool:
        return is_redacted(level.t1) or is_redacted(level.t2)

    def give_up_diffing(self, level: DiffLevel, diff_instance: DeepDiff) -> bool:
        if level.t1 != level.t2:
            diff_instance.custom_report_result("values_changed", level)  # type: ignore[no-untyped-call]
        return True

    def normalize_value_for_hashing(self, parent: Any, obj: Any) -> Any:
        return obj


_OPERATORS = [_SecretAtoms()]


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[RawChange]:
    """Every difference between ``before`` and ``after``, in path order.

    List items are compared item by item (added, removed, changed), a value whose type changed
    is one change, and an added or removed mapping gives one change per leaf.
    """
    diff = DeepDiff(
        before,
        after,
        view="tree",
        ignore_order=False,
        threshold_to_diff_deeper=0,
        custom_operators=_OPERATORS,
    )
    out: list[RawChange] = []
    for levels in diff.values():
        for level in levels:
            path = FieldPath(level.path(output_format="list"))
            old = ABSENT if level.t1 is notpresent else level.t1
            new = ABSENT if level.t2 is notpresent else level.t2
            _collect(path, old, new, out)
    out.sort(key=_order)
    return out


def _collect(path: FieldPath, old: Any, new: Any, out: list[RawChange]) -> None:
    """One change, or one per leaf when a mapping appears or disappears whole."""
    present = old if new is ABSENT else new
    appears = old is ABSENT or new is ABSENT
    if appears and isinstance(present, dict) and present and not is_redacted(present):
        for key in sorted(present):
            value = present[key]
            _collect(
                path.child(key),
                value if new is ABSENT else ABSENT,
                value if old is ABSENT else ABSENT,
                out,
            )
        return
    out.append(
        RawChange(
            path=path,
            before=None if old is ABSENT else old,
            after=None if new is ABSENT else new,
            before_present=old is not ABSENT,
            after_present=new is not ABSENT,
            sensitive=_contains_redacted(old) or _contains_redacted(new),
        )
    )


def _order(change: RawChange) -> tuple[tuple[tuple[bool, str | int], ...], bool, bool]:
    """Path order (keys sorted, indexes ascending); at one path a removal before an addition."""
    parts = tuple((isinstance(part, int), part) for part in change.path)
    return parts, change.after_present, not change.before_present


def _contains_redacted(value: Any) -> bool:
    if is_redacted(value):
        return True
    if isinstance(value, dict):
        return any(_contains_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_redacted(v) for v in value)
    return False
