"""Renderers of ``reconciler status`` and ``state list``: a table with a header, and JSON.

Names, ids, channels and the engine's words go through :func:`reconciler.errors.printable` (a
control character in a name never reaches the terminal). Pure: text and dicts from a
:class:`~reconciler.status.StatusReport` (or the state's records) and ``now``. Times in the
table are relative (``2h03m`` up, token ``in 21h``); JSON gives them as UTC timestamps
(``docs/status-format.md``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from reconciler.errors import printable
from reconciler.models import AgentRecord
from reconciler.models.manifest import AGENT_KIND
from reconciler.models.resources import PendingCreate, ResourceRecord
from reconciler.status import StatusReport, StatusRow

STATUS_FORMAT_VERSION = "1.1"
"""Version of ``status --format json`` and ``state list --format json`` (1.1: the Platform's
resources are listed too)."""

STATUS_HEADER = ("NAME", "KIND", "ID", "CHANNEL", "STATUS", "UPTIME", "TOKEN", "REASON")
STATE_LIST_HEADER = ("NAME", "ID", "GENERATION", "CHANNEL", "STARTED")
RESOURCE_LIST_HEADER = ("ADDRESS", "ID", "CREATED", "NOTE")
"""``state list``'s second table: the resources of other kinds (shown only when there are)."""


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned under a header; the last column is not padded."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(len(widths))]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """``45s``, ``12m05s``, ``3h07m``, ``2d04h``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def status_text(report: StatusReport) -> str:
    """The status table, and a line counting what is not running."""
    now = report.checked_at
    rows = [_cells(row, now) for row in report.rows]
    if not rows:
        return "No managed resources recorded in state."
    agents = [row for row in report.rows if row.kind == AGENT_KIND]
    down = sum(1 for row in agents if row.managed and row.reason)
    unmanaged = sum(1 for row in agents if not row.managed)
    managed = len(agents) - unmanaged
    parts: list[str] = []
    if agents:
        agent_part = f"{managed} managed, {managed - down} active, {down} not running"
        if unmanaged:
            agent_part += f", {unmanaged} unmanaged in managed channels"
        parts.append(agent_part)
    others = [row for row in report.rows if row.kind != AGENT_KIND]
    if others:  # the Platform's resources: counted by status (present, missing, creating)
        counts = Counter(row.status for row in others)
        shown = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
        parts.append(f"{len(others)} resource{'' if len(others) == 1 else 's'}: {shown}")
    summary = "; ".join(parts)
    unread = "".join(f"\nNot read (shown UNKNOWN): {printable(why)}" for why in report.unread)
    return f"{table(STATUS_HEADER, rows)}\n\n{summary}.{unread}"


def _cells(row: StatusRow, now: float) -> tuple[str, ...]:
    uptime = row.uptime_s(now)
    return (
        printable(row.name) if row.name else "-",
        row.kind,
        printable(row.id),
        printable(row.channel) if row.channel else "-",
        printable(row.status),
        duration(uptime) if uptime is not None else "-",
        _token(row.token_expires_at, now) if uptime is not None else "-",
        printable(row.reason),
    )


def _token(expires_at: float | None, now: float) -> str:
    if expires_at is None:
        return "-"
    left = expires_at - now
    return f"in {duration(left)}" if left > 0 else "expired"


def status_json(report: StatusReport) -> dict[str, Any]:
    """``status --format json``: every row, times as UTC timestamps."""
    return {
        "format_version": STATUS_FORMAT_VERSION,
        "checked_at": stamp(report.checked_at),
        "app_id": report.app_id,
        "engine": report.engine,
        "resources": [
            {
                "name": row.name or None,
                "kind": row.kind,
                "id": row.id,
                "channel": row.channel or None,
                "status": row.status,
                "reason": row.reason or None,
                "managed": row.managed,
                "started_at": stamp(row.started_at),
                "uptime_s": _rounded(row.uptime_s(report.checked_at)),
                "token_expires_at": stamp(row.token_expires_at),
            }
            for row in report.rows
        ],
        **({"unread": list(report.unread)} if report.unread else {}),
    }


def state_list_rows(records: Sequence[AgentRecord]) -> list[tuple[str, ...]]:
    """The cells of ``state list``, one row a record."""
    return [
        (
            printable(r.name),
            printable(r.agent_id),
            str(r.generation),
            printable(r.channel),
            stamp(r.started_at) or "-",
        )
        for r in records
    ]


def resource_list_rows(
    records: Sequence[ResourceRecord], creating: Sequence[PendingCreate]
) -> list[tuple[str, ...]]:
    """The cells of ``state list``'s resource table: one row a record, then one row an
    interrupted create (not settled: no id yet)."""
    rows: list[tuple[str, ...]] = [
        (
            printable(r.address),
            printable(r.id),
            stamp(r.created_at) or "-",
            _resource_note(r),
        )
        for r in records
    ]
    rows.extend((printable(c.address), "-", "-", "create interrupted") for c in creating)
    return rows


def _resource_note(record: ResourceRecord) -> str:
    notes = ["protected"] if record.protect else []
    if record.updating is not None:
        notes.append("update interrupted")
    notes.extend(f"deposed {printable(d.id)} not deleted" for d in record.deposed)
    return ", ".join(notes) or "-"


def state_list_json(
    records: Sequence[AgentRecord],
    journal_entries: int,
    resources: Sequence[ResourceRecord] = (),
    creating: Sequence[PendingCreate] = (),
) -> dict[str, Any]:
    """``state list --format json``: agents first, then the resources of other kinds (each with
    its ``address``), then the addresses whose create was interrupted (``creating``)."""
    listed: dict[str, Any] = {
        "format_version": STATUS_FORMAT_VERSION,
        "resources": [
            {
                "name": r.name,
                "kind": AGENT_KIND,
                "id": r.agent_id,
                "generation": r.generation,
                "channel": r.channel,
                "started_at": stamp(r.started_at),
                "token_expires_at": stamp(r.token_expires_at),
                "protect": r.protect,
            }
            for r in records
        ],
        "journal_entries": journal_entries,
    }
    listed["resources"].extend(
        {
            "name": r.name,
            "kind": r.kind,
            "address": r.address,
            "id": r.id,
            "created_at": stamp(r.created_at),
            "references": list(r.references),
            "protect": r.protect,
            "update_interrupted": r.updating is not None,
            **({"deposed": [d.id for d in r.deposed]} if r.deposed else {}),
        }
        for r in resources
    )
    if creating:
        listed["creating"] = [c.address for c in creating]
    return listed


def stamp(when: float | None) -> str | None:
    """A UTC timestamp (``2026-12-07T03:10:00Z``), ``<n> (not a date)`` if none matches."""
    if when is None:
        return None
    try:
        return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{when:g} (not a date)"


def _rounded(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
