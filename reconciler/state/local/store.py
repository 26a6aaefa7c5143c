"""The local state store: one JSON document on disk, read strictly and written atomically.

Reading never changes the file: a missing file gives a fresh document (written only by the first
:meth:`LocalStateStore.write`), and a corrupt, truncated, invalid or too-new file is a
:class:`~reconciler.errors.StateError` that names the file and the problem.

Writing is atomic and crash-safe: the new document goes to a temporary file in the same directory,
is flushed and fsynced, the previous file is kept as ``<name>.backup`` (by hard link, falling back
to a copy), the temporary file is renamed over the state file and the directory is fsynced. A crash
at any point leaves either the old or the new document in place, never a mix.

The format is stable so that git diffs of state stay small: sorted keys, two-space indent, UTF-8,
trailing newline (see :func:`~reconciler.state.document.dump_state`).

Within :meth:`LocalStateStore.write_log` (an apply), once the state file is large enough that
rewriting it costs more than a few milliseconds (:data:`LOG_FROM_BYTES`, about 150 agents), a
write costs O(changed records) instead: it appends what changed to the write log ``<name>.wal``
and fsyncs it (see :mod:`reconciler.state.local.wal`); the document is rewritten once, when the run
ends (or the log has grown past a bound). A smaller state file is rewritten whole on every
write, so it alone says what every action did. Every read replays the log in memory and never
writes, so a crash at any point loses no write that returned, and a read-only command of a
crashed run's state writes nothing.

A store refuses to overwrite a file that belongs to another project (different ``lineage``) or
that it cannot read. It remembers what it last read or wrote (by inode, size and mtime of both
files) and only re-reads the state when something else changed it.

A store opened with a :class:`~reconciler.state.binding.StateBinding` (every project's store)
refuses a state recorded for another App ID or engine, on read and on write, and records its
own in a state that has none yet at the next write.

A store is not a lock: callers that write hold a :class:`~reconciler.state.local.lock.StateLock`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import StateError
from reconciler.models.agent_table import changed_names
from reconciler.models.state import STATE_VERSION, StateDoc
from reconciler.safefile import read_regular
from reconciler.state.binding import StateBinding
from reconciler.state.document import StateText, describe_validation, new_state
from reconciler.state.local.wal import LogGap, WriteLog, change_line, file_stamp, fsync_dir, replay

__all__ = ["LocalStateStore"]

MAX_STATE_BYTES = 256 << 20
"""Largest state file read (256 MiB: about 100,000 agents); a larger one is refused."""
LOG_BOUND = 8 << 20
"""A write log longer than this and than the state file is compacted at the next write."""
LOG_FROM_BYTES = 256 << 10
"""Within :meth:`LocalStateStore.write_log`, a state file at least this large is written through
the write log; a smaller one is rewritten whole (a few milliseconds), so the file itself stays
current after every action. ``RECONCILER_STATE_LOG_FROM_BYTES`` overrides it (0: always log)."""
_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class _DiskStamp:
    """What the store knows about the state on disk, valid while both files are unchanged."""

    file: tuple[int, int, int, int]
    """:func:`~reconciler.state.local.wal.file_stamp` of the state file."""
    log: tuple[int, int, int, int] | None
    """The same of its write log (None: there is none)."""
    lineage: str
    serial: int
    """The serial of the state, write log replayed."""
    file_serial: int
    """The serial of the document in the state file itself."""

    def same(self, st: os.stat_result, log: tuple[int, int, int, int] | None) -> bool:
        return self.file == file_stamp(st) and self.log == log


class LocalStateStore:
    """State kept in one JSON file (``state/agents.json`` by default) and its write log."""

    def __init__(
        self,
        path: Path,
        *,
        log_from_bytes: int = LOG_FROM_BYTES,
        binding: StateBinding | None = None,
    ) -> None:
        self.path = Path(path)
        self.binding = binding
        """The App ID and engine this store's state must belong to (None: any)."""
        self.log_from_bytes = log_from_bytes
        """Write through the log (within :meth:`write_log`) once the state file is this large."""
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.log = WriteLog(self.path.with_name(self.path.name + ".wal"), MAX_STATE_BYTES)
        self._disk: _DiskStamp | None = None
        self._base: StateDoc | None = None
        """The state on disk (write log replayed), as last read or written."""
        self._log_size = 0
        self._logging = 0
        self._write_lock = threading.RLock()
        """Held by every read and write: what the store remembers changes with each."""
        self._text = StateText()

    def __repr__(self) -> str:
        return f"LocalStateStore({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        """Whether something is at :attr:`path` or its write log (anything but a regular file,
        or a log without its state file, fails to load): a command that skips :meth:`load` when
        nothing exists must not take a killed run's log for "no state yet"."""
        return self.path.exists() or self.log.stamp() is not None

    @property
    def where(self) -> str:
        """Where the state lives, for messages."""
        return str(self.path)

    # -- reading -------------------------------------------------------------------------------

    def load(self) -> StateDoc:
        """Read and validate the state; a fresh document (not yet written) if there is none.

        The write log, if any, is replayed onto the document in memory. Raises
        :class:`StateError` for an unreadable, corrupt, truncated or invalid file or log and for
        a file written by a newer version of the tool, and
        :class:`~reconciler.errors.StateBindingError` for a state of another App ID or engine
        than :attr:`binding`. Neither file is ever modified.
        """
        doc = self._load()
        if self.binding is not None:
            self.binding.check(doc, self.where)
        return doc

    def _load(self) -> StateDoc:
        """:meth:`load` without the binding check."""
        for attempt in range(_READ_ATTEMPTS):
            try:
                with self._write_lock:
                    return self._read()
            except LogGap:
                # A reader without the lock can see the state file of one moment and the log of
                # a later one (a compaction in between): read both again.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _read(self) -> StateDoc:
        try:
            raw, st = read_regular(self.path, MAX_STATE_BYTES)  # never a FIFO or a device
        except FileNotFoundError:
            if self.log.stamp() is not None:
                raise StateError(
                    f"{self.path} is missing but its write log {self.log.path} is there: restore "
                    f"{self.path} (from {self.backup_path}?), or delete the log to start again "
                    "from no state"
                ) from None
            self._disk, self._base, self._log_size = None, None, 0
            return new_state()
        except IsADirectoryError:
            raise StateError(f"{self.path} is a directory, not a state file") from None
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        text = self._file_text(raw)
        del raw  # the file's bytes and its text are each as large as the file: one at a time
        recorded = self._parse(text)
        del text
        contents = self.log.read()
        doc = replay(recorded, contents.lines, self.log.path)
        self._disk = _DiskStamp(
            file_stamp(st), contents.stamp, doc.lineage, doc.serial, recorded.serial
        )
        self._base, self._log_size = doc, contents.size
        return doc

    def _parse(self, text: str) -> StateDoc:
        data = self._decode(text)
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
            raise StateError(
                f"{self.path} was written by a newer reconciler (version {version}; this one "
                f"reads up to version {STATE_VERSION}); upgrade reconciler to use it"
            )
        try:
            return StateDoc.model_validate(data)
        except PydanticValidationError as exc:
            raise self._corrupt(describe_validation(exc, text)) from None

    def _file_text(self, raw: bytes) -> str:
        """The file's text (it must be UTF-8 and not blank)."""
        if not raw or raw.isspace():  # (not raw.strip(), which copies the whole file)
            raise self._corrupt("the file is empty (truncated?)")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._corrupt(f"not UTF-8 text (byte {exc.start})") from None

    def _decode(self, text: str) -> dict[str, Any]:
        try:
            data = json.loads(text, object_pairs_hook=_Objects())
        except _DuplicateKey as exc:
            raise self._corrupt(f"the key {exc.key!r} appears twice in one object") from None
        except json.JSONDecodeError as exc:
            cut = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
            raise self._corrupt(
                f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                + (" (truncated?)" if cut else "")
            ) from None
        except RecursionError:
            raise self._corrupt("invalid JSON: nested too deeply") from None
        except ValueError:  # an integer longer than Python converts (4300 digits)
            raise self._corrupt("invalid JSON: a number too long to read") from None
        if not isinstance(data, dict):
            raise self._corrupt(f"expected a JSON object, found {type(data).__name__}")
        return data

    def _corrupt(self, problem: str) -> StateError:
        hint = "it was left unchanged"
        if self.backup_path.is_file():
            hint += f"; the previous version is in {self.backup_path}"
        return StateError(f"state file {self.path} is corrupt: {problem}; {hint}")

    # -- writing -------------------------------------------------------------------------------

    @contextmanager
    def write_log(self) -> Iterator[None]:
        """Within: each :meth:`write` appends the records it changes to the write log.

        The state file is rewritten (compacted, the log removed) when the log grows past
        :data:`LOG_BOUND` or the state file's size, and when the outermost ``write_log`` ends;
        a compaction that fails then leaves the log, which every read replays and the next
        write compacts. For a long run of writes by one holder of the state lock (apply).
        """
        self._logging += 1
        try:
            yield
        finally:
            self._logging -= 1
            if not self._logging:
                with contextlib.suppress(StateError):
                    self.compact()

    def write(self, doc: StateDoc) -> StateDoc:
        """Write ``doc`` durably and return it with the serial incremented.

        Outside :meth:`write_log` the whole document is written atomically (and any write log
        folded in); within, only what changed since the last write is appended to the log.
        The returned document is a copy of ``doc`` whose ``serial`` is one more than the larger
        of ``doc.serial`` and the serial on disk, so serials strictly increase with every write
        even if a caller writes the same document twice. Raises :class:`StateError` if the
        state on disk belongs to another lineage or cannot be read (it is then left alone), or
        on an IO failure (the previous state is then intact).
        """
        with self._write_lock:
            doc = self._stamped(doc)
            disk_serial = self._check_disk(doc)
            new = doc.model_copy(update={"serial": max(doc.serial, disk_serial) + 1})
            disk, base = self._disk, self._base
            if self._logging and disk is not None and base is not None and self._log_pays():
                names = changed_names(base.agents, new.agents)
                try:
                    log = self.log.append(change_line(base, new, names), self._log_size)
                except OSError as exc:
                    raise StateError(
                        f"cannot write {self.log.path}: {exc.strerror or exc}; the previous "
                        "state is intact"
                    ) from exc
                self._disk = replace(disk, log=log, serial=new.serial)
                self._log_size = log[2]
                self._base = new
                # The compaction at the end of the run then only joins lines: each record's
                # text is made now, while the run waits on the engine, not after its last call.
                self._text.prepare(new.agents, names)
            else:
                self._write_document(new)
            return new

    def compact(self) -> None:
        """Fold the write log into the state file (rewritten atomically) and remove the log.

        Nothing happens without a log. Raises :class:`StateError` as :meth:`write` does.
        """
        with self._write_lock:
            if self._log_size == 0 and self.log.stamp() is None:
                return
            self._check_disk(self._base if self._base is not None else self._load())
            base, disk = self._base, self._disk
            if base is None or disk is None:
                return
            if disk.file_serial == disk.serial:  # the log holds nothing the file does not
                self._remove_log()
                return
            self._write_document(base)

    def replace(self, doc: StateDoc) -> StateDoc:
        """Write ``doc`` whatever lineage the file on disk has (``state push --force``).

        The serial still increases past the one on disk (when that file can be read).
        """
        with self._write_lock:
            doc = self._stamped(doc)
            try:
                disk_serial = self._load().serial if self.exists else 0
            except StateError:
                disk_serial = 0
            new = doc.model_copy(update={"serial": max(doc.serial, disk_serial) + 1})
            self._write_document(new)
            return new

    def _stamped(self, doc: StateDoc) -> StateDoc:
        """``doc`` carrying :attr:`binding` (refused if it records another)."""
        return doc if self.binding is None else self.binding.stamp(doc, self.where)

    def _log_pays(self) -> bool:
        """Whether the next write goes to the log: the state file is large (or a log is
        already open), and the log has not outgrown its bound."""
        disk = self._disk
        if disk is None:
            return False
        size = disk.file[2]
        if self._log_size == 0 and size < self.log_from_bytes:
            return False
        return self._log_size <= max(LOG_BOUND, size)

    def _write_document(self, doc: StateDoc) -> None:
        """Write ``doc`` whole (atomic rename, backup kept), then remove the write log."""
        try:
            st = self._replace(self._text.dump(doc).encode("utf-8"))
        except OSError as exc:
            raise StateError(
                f"cannot write {self.path}: {exc.strerror or exc}; the previous state is intact"
            ) from exc
        self._disk = _DiskStamp(file_stamp(st), None, doc.lineage, doc.serial, doc.serial)
        self._base, self._log_size = doc, 0
        self._remove_log()

    def _remove_log(self) -> None:
        """Delete the log; if that fails, its lines are older than the file and skipped."""
        try:
            self.log.remove()
        except OSError:
            log = self.log.stamp()
            self._log_size = log[2] if log is not None else 0
        else:
            log, self._log_size = None, 0
        if self._disk is not None:
            self._disk = replace(self._disk, log=log, file_serial=self._disk.serial)

    def _check_disk(self, doc: StateDoc) -> int:
        """Check the state on disk may be replaced by ``doc``; return its serial (0 if none).

        Afterwards :attr:`_base` is the state on disk (read again if another process wrote).
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._load()  # refuses a write log without its state file
            return 0
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        disk = self._disk
        if disk is None or not disk.same(st, self.log.stamp()):
            try:
                self._load()
            except StateError as exc:
                raise StateError(f"refusing to overwrite: {exc}") from None
            disk = self._disk
            assert disk is not None
        if disk.lineage != doc.lineage:
            raise StateError(
                f"refusing to overwrite {self.path}: it belongs to another state lineage "
                f"({disk.lineage}, not {doc.lineage}); is this the right project directory?"
            )
        return disk.serial

    def _replace(self, data: bytes) -> os.stat_result:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{self.path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
            try:
                _preserve_mode(self.path, fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                st = os.fstat(fd)
            finally:
                os.close(fd)
            self._keep_backup()
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        fsync_dir(directory)
        return st

    def _keep_backup(self) -> None:
        """Make ``<name>.backup`` the current file (before it is replaced), atomically."""
        if not self.path.exists():
            return
        tmp = self.path.with_name(f".{self.backup_path.name}.{secrets.token_hex(6)}.tmp")
        try:
            try:
                os.link(self.path, tmp)
            except OSError:  # no hard links on this filesystem
                shutil.copy2(self.path, tmp)
            os.replace(tmp, self.backup_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)


def _preserve_mode(path: Path, fd: int) -> None:
    """Give the new file the permissions of the one it replaces (else the umask default)."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        return
    os.fchmod(fd, mode)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _Objects:
    """``json.loads`` object hook of a state file: an object naming a key twice is refused, not
    last-one-wins, equal string values share one object, and so do equal objects of scalars.

    A state repeats the same values in every record (a model name, a URL, the digest of a
    secret every agent uses, whole mappings such as ``{"mode": "semantic"}`` or an LLM's
    ``params``): one object each instead of one per record. A process that has read a state of
    20,000 agents holds 143 MB of memory (174 MB with strings alone shared).

    Shared objects are never changed in place: the records' specs are only read, compared and
    copied (``tests/apply/test_shared_specs.py`` plans, applies and renders on shared ones and
    checks them unchanged). An empty object is never shared (a caller might fill it in).
    """

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._objects: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        """The object of ``pairs``; :class:`_DuplicateKey` for a key named twice."""
        shared = self._strings.setdefault
        obj = {key: shared(value, value) if type(value) is str else value for key, value in pairs}
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise _DuplicateKey(key)
                seen.add(key)
        if not obj:
            return obj
        # The type is part of the key: 1, 1.0 and true are equal in Python, not in JSON.
        signature: list[Any] = []
        for key, value in obj.items():
            kind = type(value)
            if kind not in _SCALARS:
                return obj
            signature += (key, kind, value)
        return self._objects.setdefault(tuple(signature), obj)


_SCALARS = frozenset({str, int, float, bool, type(None)})
