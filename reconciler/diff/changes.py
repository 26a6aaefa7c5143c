"""Field-level differences between two normalized, redacted specs.

Mappings are compared key by key here, and every list whose items differ is handed to DeepDiff,
which aligns the items in order (``ignore_order=False``: the order of messages matters) and
always goes deeper instead of reporting a whole item or list as replaced
(``threshold_to_diff_deeper=0``). So a list item added, removed or changed is one change at that
item's path (``properties.remote_rtc_uids[2]``, ``properties.llm.system_messages[1].content``),
and a value whose type changed is one change. A secret marker (``{"$sensitive": "sha256:..."}``)
is an atom: compared whole, by digest, never entered. A mapping added or removed is listed leaf
by leaf. Why mappings are not DeepDiff's too: docs/architecture.md, "Field diff".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.diff.redact import canonical_json, is_redacted
from reconciler.models.fieldpath import ABSENT, FieldPath

if TYPE_CHECKING:
    from deepdiff import DeepDiff
    from deepdiff.model import DiffLevel


@dataclass(frozen=True)
class RawChange:
    """One difference. ``before``/``after`` are the (redacted) values; absent sides are None."""

    path: FieldPath
    before: Any
    after: Any
    before_present: bool
    after_present: bool
    sensitive: bool


class _Atoms:
    """Values DeepDiff compares whole: secret markers (by digest) and strings.

    A string is not entered because DeepDiff would build a line diff of every changed multi-line
    string (a prompt), which the plan does not use: the renderers diff the lines themselves.
    A DeepDiff custom operator (the protocol of ``deepdiff.operator.BaseOperatorPlus``, not
    subclassed so that deepdiff is imported only when a list differs).
    """

    def match(self, level: DiffLevel) -> bool:
        """True for a pair this operator compares: a marker on either side, or two strings."""
        t1, t2 = level.t1, level.t2
        return is_redacted(t1) or is_redacted(t2) or (type(t1) is str and type(t2) is str)

    def give_up_diffing(self, level: DiffLevel, diff_instance: DeepDiff) -> bool:
        """Report the pair as one changed value if it differs; DeepDiff goes no deeper."""
        if level.t1 != level.t2:
            diff_instance.custom_report_result("values_changed", level)  # type: ignore[no-untyped-call]
        return True

    def normalize_value_for_hashing(self, parent: Any, obj: Any) -> Any:
        """Values are hashed as they are (only used with ``ignore_order``)."""
        return obj


_OPERATORS = [_Atoms()]

_SCALARS = frozenset({str, int, float, bool})
"""Values equal exactly when ``==`` says so, given the same type (:func:`_compare`'s last case)."""


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[RawChange]:
    """Every difference between ``before`` and ``after``, in path order.

    List items are compared item by item (added, removed, changed), a value whose type changed
    is one change, and an added or removed mapping gives one change per leaf.
    """
    out: list[RawChange] = []
    _compare(FieldPath(), before, after, out)
    out.sort(key=_order)
    return out


def _compare(path: FieldPath, old: Any, new: Any, out: list[RawChange]) -> None:
    """The changes between two values present at ``path``."""
    if isinstance(old, dict) and isinstance(new, dict):
        if is_redacted(old) or is_redacted(new):
            if old != new:
                _collect(path, old, new, out)
            return
        for key in old.keys() | new.keys():
            before, after = old.get(key, ABSENT), new.get(key, ABSENT)
            if type(before) is type(after) in _SCALARS and before == after:
                continue  # no change, and no path made for it (most keys of a changed spec)
            _compare_entry(path.child(key), before, after, out)
    elif isinstance(old, list) and isinstance(new, list):
        if not _identical(old, new):
            _compare_lists(path, old, new, out)
    elif old != new or type(old) is not type(new):
        _collect(path, old, new, out)


def _compare_entry(path: FieldPath, old: Any, new: Any, out: list[RawChange]) -> None:
    if old is ABSENT or new is ABSENT:
        _collect(path, old, new, out)
    else:
        _compare(path, old, new, out)


def _compare_lists(path: FieldPath, old: list[Any], new: list[Any], out: list[RawChange]) -> None:
    """DeepDiff's changes between two lists, item by item, at paths under ``path``."""
    if _pairwise(old, new):
        # What DeepDiff does with two lists of as many mappings (unhashable items are paired by
        # index, then compared as mappings), without its per-call cost (0.2 to 0.5 ms a list, a
        # tenth of that here): a changed prompt in each of hundreds of agents.
        for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
            _compare(path.child(index), old_item, new_item, out)
        return
    # Imported on first use: about 0.1 s of start-up that a plan without list changes never needs.
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    diff = DeepDiff(
        old,
        new,
        view="tree",
        ignore_order=False,
        threshold_to_diff_deeper=0,
        custom_operators=_OPERATORS,
    )
    for levels in diff.values():
        for level in levels:
            at = FieldPath((*path, *level.path(output_format="list")))
            before = ABSENT if level.t1 is notpresent else level.t1
            after = ABSENT if level.t2 is notpresent else level.t2
            _collect(at, before, after, out)


def _pairwise(old: list[Any], new: list[Any]) -> bool:
    """Whether two lists are of as many items, each a mapping that is not a secret marker (the
    lists DeepDiff compares item by item at the same index, as :func:`_compare` does)."""
    return len(old) == len(new) and all(
        type(item) is dict and not is_redacted(item) for items in (old, new) for item in items
    )


def _identical(old: Any, new: Any) -> bool:
    """Equal values of equal types throughout (``1``, ``1.0`` and ``true`` are all different)."""
    return bool(old == new) and canonical_json(old) == canonical_json(new)


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
