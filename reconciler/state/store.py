"""The local state store: one JSON document on disk, read strictly and written atomically.

Reading never changes the file: a missing file gives a fresh document (written only by the first
:meth:`LocalStateStore.write`), and a corrupt, truncated, invalid or too-new file is a
:class:`~reconciler.errors.StateError` that names the file and the problem.

Writing is atomic and crash-safe: the new document goes to a temporary file in the same directory,
is flushed and fsynced, the previous file is kept as ``<name>.backup`` (by hard link, falling back
to a copy), the temporary file is renamed over the state file and the directory is fsynced. A crash
at any point leaves either the old or the new document in place, never a mix.

The format is stable so that git diffs of state stay small: sorted keys, two-space indent, UTF-8,
trailing newline (see :func:`dump_state`).

A store refuses to overwrite a file that belongs to another project (different ``lineage``) or
that it cannot read. To keep a write after every action of a large apply cheap, the store
remembers what it last read or wrote (by inode, size and mtime) and only re-reads the file when
something else changed it, so each write costs one serialization plus the IO.

A store is not a lock: callers that write hold a :class:`~reconciler.state.lock.StateLock`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import StateError
from reconciler.models.state import STATE_VERSION, AgentRecord, JournalEntry, StateDoc
from reconciler.safefile import read_regular

__all__ = ["LocalStateStore", "dump_state", "new_state"]

_MAX_LISTED_PROBLEMS = 10
MAX_STATE_BYTES = 256 << 20
"""Largest state file read (256 MiB: about 100,000 agents); a larger one is refused."""


def new_state() -> StateDoc:
    """A fresh, empty state document with a new lineage and a new random salt."""
    return StateDoc(lineage=str(uuid4()), serial=0, salt=secrets.token_hex(16))


def dump_state(doc: StateDoc) -> str:
    """The canonical text of a state document: sorted keys, indent 2, trailing newline."""
    return _StateText().dump(doc)


def _pretty(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


class _StateText:
    """:func:`dump_state`, remembering the text of every agent record and journal entry.

    ``json.dumps`` with ``indent`` runs in pure Python (the C encoder has no indent), and apply
    writes the whole state after every action: re-encoding every record each time made a
    500-agent apply spend minutes in the encoder. Records and entries are immutable models that
    are replaced, never changed, so the text of each is computed once (kept while the object is
    in the document, keyed by identity) and the document is assembled from the pieces, byte for
    byte what ``json.dumps(doc.model_dump(mode="json"), sort_keys=True, indent=2)`` gives: a
    value nested at depth d is its own indented text with every line break followed by 2 x d
    more spaces (JSON strings hold no raw line breaks).
    """

    _Key = tuple[int, str]

    def __init__(self) -> None:
        self._lines: dict[_StateText._Key, tuple[object, str]] = {}

    def _line(
        self,
        item: AgentRecord | JournalEntry,
        name: str | None,
        used: dict[_StateText._Key, tuple[object, str]],
    ) -> str:
        """One line of the document, four spaces deep: ``"name": {...}`` or an item ``{...}``."""
        key = (id(item), name or "")
        known = self._lines.get(key)
        if known is not None and known[0] is item:
            line = known[1]
        else:
            text = _pretty(item.model_dump(mode="json")).replace("\n", "\n    ")
            line = f"    {_pretty(name)}: {text}" if name is not None else f"    {text}"
        used[key] = (item, line)
        return line

    def dump(self, doc: StateDoc) -> str:
        used: dict[_StateText._Key, tuple[object, str]] = {}
        parts: dict[str, str] = {}
        for key, value in doc.model_dump(mode="json", exclude={"agents", "journal"}).items():
            parts[key] = _pretty(value).replace("\n", "\n  ")
        records = [self._line(doc.agents[name], name, used) for name in sorted(doc.agents)]
        parts["agents"] = "{\n" + ",\n".join(records) + "\n  }" if records else "{}"
        entries = [self._line(entry, None, used) for entry in doc.journal]
        parts["pending"] = "[\n" + ",\n".join(entries) + "\n  ]" if entries else "[]"
        self._lines = used  # forget what the document no longer holds
        body = ",\n".join(f"  {_pretty(key)}: {parts[key]}" for key in sorted(parts))
        return "{\n" + body + "\n}\n"


@dataclass(frozen=True)
class _DiskStamp:
    """What the store knows about the file on disk, valid while its identity is unchanged."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    lineage: str
    serial: int

    def same_file(self, st: os.stat_result) -> bool:
        return (self.dev, self.ino, self.size, self.mtime_ns) == (
            st.st_dev,
            st.st_ino,
            st.st_size,
            st.st_mtime_ns,
        )


def _stamp(st: os.stat_result, lineage: str, serial: int) -> _DiskStamp:
    return _DiskStamp(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, lineage, serial)


class LocalStateStore:
    """State kept in one JSON file (``state/agents.json`` by default)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self._disk: _DiskStamp | None = None
        self._write_lock = threading.Lock()
        self._text = _StateText()

    def __repr__(self) -> str:
        return f"LocalStateStore({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        """Whether something is at :attr:`path` (anything but a regular file fails to load)."""
        return self.path.exists()

    @property
    def where(self) -> str:
        """Where the state lives, for messages."""
        return str(self.path)

    # -- reading -------------------------------------------------------------------------------

    def load(self) -> StateDoc:
        """Read and validate the state; a fresh document (not yet written) if there is none.

        Raises :class:`StateError` for an unreadable, corrupt, truncated or invalid file and for a
        file written by a newer version of the tool. The file is never modified.
        """
        try:
            raw, st = read_regular(self.path, MAX_STATE_BYTES)  # never a FIFO or a device
        except FileNotFoundError:
            self._disk = None
            return new_state()
        except IsADirectoryError:
            raise StateError(f"{self.path} is a directory, not a state file") from None
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        doc = self._parse(raw)
        self._disk = _stamp(st, doc.lineage, doc.serial)
        return doc

    def _parse(self, raw: bytes) -> StateDoc:
        data = self._decode(raw)
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
            raise StateError(
                f"{self.path} was written by a newer reconciler (version {version}; this one "
                f"reads up to version {STATE_VERSION}); upgrade reconciler to use it"
            )
        try:
            return StateDoc.model_validate(data)
        except PydanticValidationError as exc:
            raise self._corrupt(_describe_validation(exc)) from None

    def _decode(self, raw: bytes) -> dict[str, Any]:
        if not raw.strip():
            raise self._corrupt("the file is empty (truncated?)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._corrupt(f"not UTF-8 text (byte {exc.start})") from None
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
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

    def write(self, doc: StateDoc) -> StateDoc:
        """Write ``doc`` atomically and return it with the serial incremented.

        The returned document is a copy of ``doc`` whose ``serial`` is one more than the larger of
        ``doc.serial`` and the serial on disk, so serials strictly increase with every write even
        if a caller writes the same document twice. Raises :class:`StateError` if the file on disk
        belongs to another lineage or cannot be read (it is then left alone), or on an IO failure
        (the previous file is then intact).
        """
        with self._write_lock:
            disk_serial = self._check_disk(doc)
            new = doc.model_copy(update={"serial": max(doc.serial, disk_serial) + 1})
            data = self._text.dump(new).encode("utf-8")
            try:
                st = self._replace(data)
            except OSError as exc:
                raise StateError(
                    f"cannot write {self.path}: {exc.strerror or exc}; the previous state is intact"
                ) from exc
            self._disk = _stamp(st, new.lineage, new.serial)
            return new

    def replace(self, doc: StateDoc) -> StateDoc:
        """Write ``doc`` whatever lineage the file on disk has (``state push --force``).

        The serial still increases past the one on disk (when that file can be read).
        """
        with self._write_lock:
            try:
                disk_serial = self.load().serial if self.exists else 0
            except StateError:
                disk_serial = 0
            self._disk = None
            new = doc.model_copy(update={"serial": max(doc.serial, disk_serial) + 1})
            try:
                st = self._replace(self._text.dump(new).encode("utf-8"))
            except OSError as exc:
                raise StateError(
                    f"cannot write {self.path}: {exc.strerror or exc}; the previous state is intact"
                ) from exc
            self._disk = _stamp(st, new.lineage, new.serial)
            return new

    def _check_disk(self, doc: StateDoc) -> int:
        """Check the file on disk may be replaced by ``doc``; return its serial (0 if none)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._disk = None
            return 0
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        disk = self._disk
        if disk is None or not disk.same_file(st):
            try:
                on_disk = self.load()
            except StateError as exc:
                raise StateError(f"refusing to overwrite: {exc}") from None
            disk = self._disk
            assert disk is not None
            lineage, serial = on_disk.lineage, on_disk.serial
        else:
            lineage, serial = disk.lineage, disk.serial
        if lineage != doc.lineage:
            raise StateError(
                f"refusing to overwrite {self.path}: it belongs to another state lineage "
                f"({lineage}, not {doc.lineage}); is this the right project directory?"
            )
        return serial

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
        _fsync_dir(directory)
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


def _fsync_dir(directory: Path) -> None:
    """Persist a rename; not every platform can open a directory, which is then skipped."""
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


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` object hook: an object naming a key twice is refused, not last-one-wins."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _describe_validation(exc: PydanticValidationError) -> str:
    """A short, value-free account of what does not fit the model."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for err in errors[:_MAX_LISTED_PROBLEMS]:
        loc = ".".join(str(p) for p in err["loc"]) or "(document)"
        parts.append(f"{loc}: {err['msg']}")
    more = len(errors) - _MAX_LISTED_PROBLEMS
    if more > 0:
        parts.append(f"and {more} more")
    return "not a valid state document (" + "; ".join(parts) + ")"
