"""The write log of the local state: the records each write changed, one JSON line per write.

Rewriting the whole state document after every group commit of an apply costs O(state) per
write. Within :meth:`~reconciler.state.local.store.LocalStateStore.write_log`, a write instead
appends one line to ``<state file>.wal`` (``state/agents.json.wal``) holding only what changed
since the previous write, and fsyncs it; the document itself is rewritten (*compacted*) once,
when the run ends or the log has grown past a bound.

A line is a compact JSON object::

    {"lineage": "...", "serial": 12, "version": 1, "salt": "...",
     "agents": {"sales-en": {...record...}, "gone": null},
     "pending": ["<id of an entry kept as it was>", {...new or changed entry...}]}

``agents`` holds every record that is new or replaced (``null``: removed); ``pending`` (the
journal's key in the state document) is the whole journal in order, an entry unchanged since
the previous line given by its id only.

Reading applies the lines in order onto the document in the state file (:func:`replay`):

* a line whose serial is not above the document's is skipped (already in the document: a
  compaction that stopped before removing the log), so replaying twice changes nothing;
* the next line must carry the document's lineage and the serial after its own, else the log
  is corrupt (a :class:`~reconciler.errors.StateError`);
* a last line without its line break is a write that never completed (a crash while
  appending), which was never reported as durable: it is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import StateError, printable
from reconciler.models.agent_table import changed_names
from reconciler.models.state import STATE_VERSION, AgentRecord, JournalEntry, StateDoc
from reconciler.safefile import read_regular

__all__ = ["LogContents", "LogGap", "WriteLog", "change_line", "file_stamp", "fsync_dir", "replay"]

_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)


class LogGap(StateError):
    """A line does not follow the document it is replayed onto (see :func:`replay`)."""


@dataclass(frozen=True)
class LogContents:
    """The complete lines of a write log and the identity of the file they were read from."""

    lines: list[bytes]
    size: int
    """Bytes of the complete lines (0: no log); a torn last line is cut by the next append."""
    stamp: tuple[int, int, int, int] | None
    """``(dev, ino, size, mtime_ns)`` of the file; None when there is none."""


def file_stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    """What identifies one version of a file: device, inode, size and modification time."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class WriteLog:
    """The append-only file of changes beside a state file (the caller holds the state lock)."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit

    def read(self) -> LogContents:
        """The log's complete lines (none when there is no log); a torn last line is dropped."""
        try:
            raw, st = read_regular(self.path, self.limit)
        except FileNotFoundError:
            return LogContents([], 0, None)
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        lines = raw.split(b"\n")
        torn = lines.pop()  # after the last line break: empty, or a write that never completed
        return LogContents(lines, len(raw) - len(torn), file_stamp(st))

    def stamp(self) -> tuple[int, int, int, int] | None:
        """The current identity of the log file (None: there is none)."""
        try:
            return file_stamp(os.stat(self.path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc

    def append(self, line: str, size: int) -> tuple[int, int, int, int]:
        """Append ``line`` durably (written and fsynced) after the first ``size`` bytes.

        ``size`` is the log's length as last read or written: anything after it (a torn line
        left by a failed write) is cut first, and on failure the log is cut back to ``size``
        again, so that a line is either wholly there or not at all. Returns the new stamp.
        """
        data = (line + "\n").encode("utf-8")
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | _O_CLOEXEC, 0o666)
        try:
            try:
                if os.fstat(fd).st_size != size:
                    os.ftruncate(fd, size)
                view = memoryview(data)
                offset = size
                while view:
                    written = os.pwrite(fd, view, offset)
                    view, offset = view[written:], offset + written
                os.fsync(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
            stamp = file_stamp(os.fstat(fd))
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)
        return stamp

    def remove(self) -> None:
        """Delete the log (its lines are in the state file now); missing is fine."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return
        fsync_dir(self.path.parent)


def fsync_dir(directory: Path) -> None:
    """Persist a rename or unlink; not every platform can open a directory, which is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY | _O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def change_line(base: StateDoc, new: StateDoc, names: list[str] | None = None) -> str:
    """The log line that turns ``base`` into ``new``: only new, replaced or removed records.

    O(changed records) when ``new.agents`` was derived from ``base.agents`` as an
    :class:`~reconciler.models.agent_table.AgentTable` (as apply derives them); otherwise the
    records are compared (see :func:`~reconciler.models.agent_table.changed_names`; ``names``:
    the caller's answer of it, so as not to ask twice). Journal
    entries are immutable and replaced, never changed, so an unchanged one is usually the same
    object (checked first, before comparing values).
    """
    parts = [
        f'"lineage":{json.dumps(new.lineage)}',
        f'"serial":{new.serial}',
        f'"version":{new.version}',
        f'"salt":{json.dumps(new.salt)}',
        f'"app_id":{json.dumps(new.app_id)}',
        f'"engine":{json.dumps(new.engine)}',
        f'"environment":{json.dumps(new.environment)}',
    ]
    changed = [
        f"{json.dumps(name)}:{record.model_dump_json() if record is not None else 'null'}"
        for name in (changed_names(base.agents, new.agents) if names is None else names)
        for record in (new.agents.get(name),)
    ]
    parts.append('"agents":{' + ",".join(changed) + "}")
    known = _by_id(base.journal)
    items = [
        json.dumps(entry.id) if _same(known.get(entry.id), entry) else entry.model_dump_json()
        for entry in new.journal
    ]
    parts.append('"pending":[' + ",".join(items) + "]")
    if new.resources or base.resources:  # resources of other kinds: few, written whole
        whole = ",".join(f"{json.dumps(k)}:{r.model_dump_json()}" for k, r in new.resources.items())
        parts.append('"resources":{' + whole + "}")
    if new.creating or base.creating:  # write-ahead entries of resources: few, written whole
        whole = ",".join(f"{json.dumps(k)}:{r.model_dump_json()}" for k, r in new.creating.items())
        parts.append('"creating":{' + whole + "}")
    return "{" + ",".join(parts) + "}"


def _same(old: JournalEntry | None, new: JournalEntry) -> bool:
    return old is new or (old is not None and old == new)


def _by_id(journal: list[JournalEntry]) -> dict[str, JournalEntry]:
    """Entries by id; an id that appears twice is left out (it is then written out in full)."""
    found: dict[str, JournalEntry] = {}
    twice: set[str] = set()
    for entry in journal:
        if entry.id in found:
            twice.add(entry.id)
        found[entry.id] = entry
    for entry_id in twice:
        del found[entry_id]
    return found


def replay(doc: StateDoc, lines: list[bytes], where: Path) -> StateDoc:
    """``doc`` with every line of the log at ``where`` that follows it applied (see above).

    Raises :class:`LogGap` when a line neither is in ``doc`` already nor follows it, and
    :class:`StateError` for a line that is not a valid change.
    """
    agents = dict(doc.agents)
    journal = list(doc.journal)
    resources: dict[str, Any] = dict(doc.resources)
    creating: dict[str, Any] = dict(doc.creating)
    header: dict[str, Any] = {}
    serial = doc.serial
    for number, raw in enumerate(lines, start=1):
        line = _decode(raw, where, number)
        line_serial = line.get("serial")
        if not isinstance(line_serial, int) or isinstance(line_serial, bool):
            raise _corrupt(where, number, "no serial")
        if line_serial <= serial:
            continue
        if line_serial != serial + 1 or line.get("lineage") != doc.lineage:
            raise LogGap(
                f"state log {where} is corrupt: it does not follow the state file: line {number} "
                f"has serial "
                f"{line_serial} of lineage {line.get('lineage')}, the state is at {serial} of "
                f"{doc.lineage}"
            )
        try:
            _apply(line, agents, journal)
            if "resources" in line:
                if not isinstance(line["resources"], dict):
                    raise TypeError("resources is not an object")
                resources = dict(line["resources"])
            if "creating" in line:
                if not isinstance(line["creating"], dict):
                    raise TypeError("creating is not an object")
                creating = dict(line["creating"])
        except (PydanticValidationError, TypeError, KeyError, ValueError) as exc:
            raise _corrupt(where, number, _why(exc)) from None
        header = {key: line.get(key) for key in ("version", "salt")}
        # A line of an older log has no App ID, engine or environment: the document's stay.
        header |= {key: line[key] for key in ("app_id", "engine", "environment") if key in line}
        serial = line_serial
    if serial == doc.serial:
        return doc
    version = header["version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
        raise StateError(
            f"{where} was written by a newer reconciler (version {version}); upgrade reconciler"
        )
    try:
        return StateDoc.model_validate(
            {"app_id": doc.app_id, "engine": doc.engine, "environment": doc.environment}
            | header
            | {"lineage": doc.lineage, "serial": serial}
            | {"agents": agents, "pending": journal}
            | ({"resources": resources} if resources else {})
            | ({"creating": creating} if creating else {})
        )
    except PydanticValidationError as exc:
        raise _corrupt(where, len(lines), _why(exc)) from None


def _decode(raw: bytes, where: Path, number: int) -> dict[str, Any]:
    try:
        line = json.loads(raw)
    except (ValueError, RecursionError):
        raise _corrupt(where, number, "not a JSON line") from None
    if not isinstance(line, dict):
        raise _corrupt(where, number, "not a JSON object")
    return line


def _apply(
    line: dict[str, Any], agents: dict[str, AgentRecord], journal: list[JournalEntry]
) -> None:
    """Apply one line's changes to ``agents`` and ``journal`` (in place)."""
    changes = line.get("agents")
    if not isinstance(changes, dict):
        raise TypeError("agents is not an object")
    for name, value in changes.items():
        if value is None:
            agents.pop(name, None)
            continue
        record = AgentRecord.model_validate(value)
        if record.name != name:
            raise ValueError(f"the record under {name!r} is named {record.name!r}")
        agents[name] = record
    items = line.get("pending")
    if not isinstance(items, list):
        raise TypeError("pending is not a list")
    known = _by_id(journal)
    entries = []
    for item in items:
        if isinstance(item, str):
            entries.append(known[item])
        else:
            entries.append(JournalEntry.model_validate(item))
    journal[:] = entries


def _why(exc: Exception) -> str:
    if isinstance(exc, PydanticValidationError):
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        loc = printable(".".join(str(p) for p in first["loc"])) or "(line)"
        return f"not a valid change ({loc}: {first['msg']})"
    if isinstance(exc, KeyError):
        return f"refers to {exc.args[0]!r}, which is not there"
    return f"not a valid change ({exc})"


def _corrupt(where: Path, number: int, problem: str) -> StateError:
    return StateError(
        f"state log {where} is corrupt: line {number}: {problem}; it was left unchanged "
        "(the state file without it is the state before the run that wrote it)"
    )
