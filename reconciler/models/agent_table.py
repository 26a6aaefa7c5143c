"""The agents of a state document made from another's by a few changes, knowing which.

A state store writes what changed since the document it last wrote: the local store appends
those records to its write log, the PostgreSQL store upserts their rows. Finding them by
comparing every record of the two documents costs O(recorded agents) per write, which made a
run of N writes quadratic in the agents. An :class:`AgentTable` is a plain ``dict`` of records
(it validates, serialises and reads as one) that also knows which names changed since the
tables it was derived from, so :func:`changed_names` answers in O(changed).

A table is read-only once made (every mutating method raises ``TypeError``): its changes could
not be trusted otherwise. Each table has a number no other table in the process has (never an
``id()``, which is reused), and remembers its changes relative to its last few ancestors
(:data:`ANCESTRY`), so that a document changed twice between two writes still takes the fast
path. A copy (``copy``, ``pickle``, a deep model copy) is a plain ``dict`` and knows nothing;
anything :func:`changed_names` cannot vouch for is compared record by record, as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from reconciler.models.state import AgentRecord

__all__ = ["ANCESTRY", "AgentTable", "changed_names"]

ANCESTRY = 4
"""How many ancestors a table knows its changes since (a document changed this many times
between two writes still takes the fast path)."""

_numbers = itertools.count(1)


class AgentTable(dict[str, AgentRecord]):
    """A read-only ``dict`` of agent records that knows what changed since its ancestors."""

    __slots__ = ("number", "since")

    number: int
    """Unique to this table within the process."""
    since: tuple[tuple[int, frozenset[str]], ...]
    """(an ancestor's :attr:`number`, the names put or dropped since it), nearest first."""

    def __init__(self, agents: Mapping[str, AgentRecord] | None = None) -> None:
        """A table of ``agents`` that knows no ancestor (see :meth:`derive`)."""
        dict.__init__(self, agents or {})
        self.number = next(_numbers)
        self.since = ()

    @classmethod
    def derive(
        cls,
        agents: Mapping[str, AgentRecord],
        put: Iterable[AgentRecord] = (),
        drop: Iterable[str] = (),
    ) -> AgentTable:
        """``agents`` with the records ``put`` set (by name), then the names ``drop`` removed."""
        table = cls(agents)
        changed: set[str] = set()
        for record in put:
            dict.__setitem__(table, record.name, record)
            changed.add(record.name)
        for name in drop:
            if dict.pop(table, name, None) is not None:
                changed.add(name)
        if isinstance(agents, AgentTable):
            names = frozenset(changed)
            older = tuple((number, names | since) for number, since in agents.since)
            table.since = ((agents.number, names), *older)[:ANCESTRY]
        return table

    def _read_only(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        """Every mutating method: refused (the changes a table knows would be wrong after)."""
        raise TypeError("an AgentTable is read-only: make another with AgentTable.derive")

    __setitem__ = __delitem__ = __ior__ = _read_only
    pop = popitem = setdefault = update = clear = _read_only

    def __reduce__(self) -> tuple[type[dict[str, AgentRecord]], tuple[dict[str, AgentRecord]]]:
        """Copies and pickles are plain dicts (a copy is a table of its own, its past unknown)."""
        return dict, (dict(self),)

    def __copy__(self) -> dict[str, AgentRecord]:
        """A plain ``dict`` of the same records, free to change."""
        return dict(self)


def changed_names(base: Mapping[str, AgentRecord], new: Mapping[str, AgentRecord]) -> list[str]:
    """The names whose record is new, replaced or removed in ``new`` compared with ``base``.

    O(changed) when ``new`` is an :class:`AgentTable` derived from ``base`` (directly or within
    :data:`ANCESTRY` steps); otherwise every record is compared. Sorted, so that what a store
    writes does not depend on the order of the changes.
    """
    if new is base:
        return []
    if isinstance(new, AgentTable) and isinstance(base, AgentTable):
        for number, since in new.since:
            if number == base.number:
                return sorted(
                    name
                    for name in since
                    if (old := base.get(name)) is not (now := new.get(name)) and old != now
                )
    found = [
        name
        for name, record in new.items()
        if (old := base.get(name)) is not record and old != record
    ]
    found.extend(name for name in base if name not in new)
    return sorted(found)
