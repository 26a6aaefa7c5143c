"""The state lock: an OS-level ``flock`` on ``<state file>.lock``, with who holds it in the file.

Every command that may write state holds the lock for its whole run. The kernel releases a
``flock`` when the holder's last file descriptor closes, including when the process is killed, so
a killed CI job never leaves a lock behind that blocks the next run; a forked child does not
keep the descriptor (see :func:`_forget_in_child`). ``flock`` locks belong to an
open file description, so two :class:`StateLock` objects exclude each other even inside one
process (each opens the file itself).

The lock is two ``flock`` locks taken in order: first on the directory that holds the state
file, then on the lock file. The directory lock is what excludes: a lock file can be deleted or
replaced while it is held (a user cleaning up, a script), and a second acquirer would then create
and lock a fresh file at the same path and run beside the first; a directory cannot be removed
while it holds the state. The lock file carries the holder info: after acquiring, the holder writes
a JSON :class:`LockInfo` into it (id, user@host, pid, command, start time, CI run) so that a
refused acquirer can say who holds it. Releasing truncates the file and closes both descriptors;
what the acquisition created (the lock file, the state directory and its missing parents) is
removed first, while both locks are still held, unless something else now lives in it: a command
that wrote no state (an apply refused after planning) leaves no file it did not find, and one that
wrote it leaves the state file and no lock file. After each ``flock`` the acquirer checks that the
descriptor it locked is still the one at its path (``fstat`` against ``stat``) and starts again
if not, so a directory or file replaced meanwhile is followed, never locked stale. State files
that share a directory share its lock.

:func:`force_unlock` exists for backends whose locks can outlive a process. For this local backend
a held lock always has a live holder, so it only:

* clears holder info left behind by a holder that died without releasing (the lock is then free
  already; the id must match the recorded one);
* breaks a lock file held by some process other than the recorded holder, when the recorded
  holder's pid is gone from this host and nothing holds the directory lock (a process that locked
  only the file): the lock file is atomically replaced by a fresh one, which new acquirers then
  lock; a process that still holds the directory lock is refused, since only stopping it frees the
  lock;
* and refuses (:class:`~reconciler.errors.LockHeldError`) while the recorded holder is alive, or
  runs on another host where its pid cannot be checked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import secrets
import socket
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from reconciler.errors import LockHeldError, StateError
from reconciler.state.heldlock import HeldLock
from reconciler.state.holder import LockInfo
from reconciler.state.lockwait import Busy, wait_for_lock

__all__ = ["StateLock", "force_unlock", "lock_path_for"]

_POLL_INTERVAL_S = 0.05
_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY: int = getattr(os, "O_DIRECTORY", 0)


def lock_path_for(state_path: Path) -> Path:
    """The lock file of a state file: ``state/agents.json`` -> ``state/agents.json.lock``."""
    return state_path.with_name(state_path.name + ".lock")


def _held_message(lock_path: Path, info: LockInfo | None, *, file_missing: bool = False) -> str:
    if info is None and file_missing:
        return (
            f"state is locked by another process (its lock file {lock_path} was removed while "
            "held, so the holder is unknown); wait with --lock-timeout"
        )
    if info is None:
        return (
            f"state is locked by another process (no holder recorded yet in {lock_path}); "
            "wait with --lock-timeout"
        )
    return (
        f"state is locked by {info.describe()}, lock id {info.id} (lock file {lock_path}); wait "
        "with --lock-timeout or, if that process is gone on a backend without OS locks, run "
        f"`reconciler force-unlock {info.id}`"
    )


def _read_info(fd: int) -> LockInfo | None:
    """Holder info from an open lock file; retried briefly in case the holder is mid-write."""
    for attempt in range(5):
        raw = os.pread(fd, 64 * 1024, 0)
        info = LockInfo.from_json(raw.decode("utf-8", "replace"))
        if info is not None or not raw:
            return info
        if attempt < 4:
            time.sleep(0.01)
    return None


def _try_flock(fd: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise StateError(f"cannot lock {path}: {exc.strerror or exc}") from exc
    return True


def _is_current(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (it was not deleted or replaced)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _open(path: Path) -> tuple[int, bool]:
    """The lock file, opened read-write, and whether this call created it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666), True
        except FileExistsError:
            return os.open(path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o666), False
    except OSError as exc:
        raise StateError(f"cannot open lock file {path}: {exc.strerror or exc}") from exc


def _open_existing(path: Path) -> int | None:
    """The lock file for reading who holds it, without creating it; None if it is missing."""
    try:
        return os.open(path, os.O_RDONLY | _O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot open lock file {path}: {exc.strerror or exc}") from exc


def _open_dir(directory: Path) -> tuple[int, list[Path]]:
    """The state directory, opened (made first if missing), and the directories this call made,
    deepest first."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        return os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC), missing
    except OSError as exc:
        raise StateError(f"cannot open state directory {directory}: {exc.strerror or exc}") from exc


def _remove_created(fd: int, lock_path: Path, created: list[Path]) -> None:
    """Remove what taking the lock created: the lock file (if it is still the one ``fd`` holds),
    then each directory that is empty again, deepest first. Called while both locks are held:
    an acquirer waiting on the directory finds it replaced and starts again."""
    for path in created:
        try:
            if path != lock_path:
                os.rmdir(path)
            elif _is_current(fd, lock_path):
                os.unlink(lock_path)
        except OSError:
            return  # not empty (the state was written), or gone: its parents stay too


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _write_info(fd: int, info: LockInfo | None) -> None:
    os.ftruncate(fd, 0)
    if info is not None:
        os.pwrite(fd, info.to_json().encode("utf-8"), 0)


class StateLock(HeldLock):
    """An exclusive lock on one state file, held by at most one process (and object) at a time.

    ``timeout`` and ``command`` set the defaults used when the lock is entered as a context
    manager: ``with StateLock(path, command="apply") as info: ...``.
    """

    def __init__(self, state_path: Path, *, timeout: float = 0.0, command: str = "") -> None:
        super().__init__(timeout=timeout, command=command)
        self.state_path = Path(state_path)
        self.lock_path = lock_path_for(self.state_path)
        self._fd: int | None = None
        self._dir_fd: int | None = None
        self._created: list[Path] = []
        """What taking the lock created (see :func:`_remove_created`), removed on release."""

    def __repr__(self) -> str:
        state = "held" if self.held else "free"
        return f"StateLock({str(self.lock_path)!r}, {state})"

    def _take(self, timeout: float, holder: Callable[[], LockInfo]) -> LockInfo:
        fd, dir_fd = wait_for_lock(
            self._attempt,
            timeout=timeout,
            interval=_POLL_INTERVAL_S,
            min_sleep=0.01,
        )
        info = holder()
        try:
            _write_info(fd, info)
        except OSError as exc:
            _close(fd, dir_fd)
            raise StateError(f"cannot write lock file {self.lock_path}: {exc.strerror}") from exc
        self._fd, self._dir_fd = fd, dir_fd
        _HELD.add(self)
        return info

    def _attempt(self) -> tuple[int, int] | Busy:
        """Take both locks once: their descriptors, or :class:`Busy` naming who holds them."""
        directory = self.lock_path.parent
        while True:
            dir_fd, created = _open_dir(directory)
            fd: int | None = None
            try:
                if _try_flock(dir_fd, directory):
                    if not _is_current(dir_fd, directory):
                        _close(dir_fd)
                        continue  # the directory was replaced: lock the new one
                    fd, made = _open(self.lock_path)
                    if _try_flock(fd, self.lock_path):
                        if _is_current(fd, self.lock_path):
                            self._created = [self.lock_path] * made + created
                            return fd, dir_fd
                        _close(fd, dir_fd)
                        continue  # the file was replaced: lock the new one
                    # The file is locked by a process outside this protocol (it did not take the
                    # directory): held all the same.
                    file_missing = False
                else:
                    fd = _open_existing(self.lock_path)
                    file_missing = fd is None
            except BaseException:
                _close(fd, dir_fd)
                raise
            return Busy(
                describe=functools.partial(self._describe, fd, file_missing),
                release=functools.partial(_close, fd, dir_fd),
            )

    def _describe(self, fd: int | None, file_missing: bool) -> tuple[bool, str]:
        holder = _read_info(fd) if fd is not None else None
        return holder is not None, _held_message(self.lock_path, holder, file_missing=file_missing)

    def check(self) -> None:
        """Raise :class:`StateError` unless this object holds the lock (an OS lock held through
        an open descriptor cannot be lost while the process runs)."""
        if self._fd is None:
            raise StateError(f"the state lock {self.lock_path} is not held")

    def release(self) -> None:
        """Clear the holder info and release the lock; nothing happens if it is not held."""
        fd, dir_fd, created = self._fd, self._dir_fd, self._created
        self._fd, self._dir_fd, self._info, self._created = None, None, None, []
        _HELD.discard(self)
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                _write_info(fd, None)
            # Last under the lock: once the directory is gone, a waiter takes a new one.
            _remove_created(fd, self.lock_path, created)
        finally:
            _close(fd, dir_fd)  # closing the last descriptor releases the flock

    def __del__(self) -> None:
        # Like a file object: a lock nobody references any more is released, not leaked.
        if getattr(self, "_fd", None) is not None:
            with contextlib.suppress(Exception):  # at shutdown, os may be gone already
                self.release()


_HELD: weakref.WeakSet[StateLock] = weakref.WeakSet()
"""The locks this process holds (see :func:`_forget_in_child`)."""


def _forget_in_child() -> None:
    """In a forked child, drop the copies of held lock descriptors.

    A ``flock`` lasts while any descriptor of the open file lives, and a forked child (a worker
    reading manifests, say) shares the parent's. Were the parent killed, a child still running
    would keep the state locked. Closing the child's copy leaves the parent's lock as it is; the
    child's lock objects forget it, so nothing in the child can write the lock file.
    """
    for lock in list(_HELD):
        fds = (lock._fd, lock._dir_fd)
        lock._fd, lock._dir_fd, lock._info, lock._created = None, None, None, []
        _close(*fds)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def force_unlock(state_path: Path, lock_id: str) -> LockInfo:
    """Remove the lock with id ``lock_id`` from the state at ``state_path``; return its holder.

    * No holder recorded, or another id recorded: :class:`StateError` (nothing is changed).
    * Lock free, holder info stale (its holder died): the info is cleared.
    * Lock held and the recorded holder (same id) is alive, or lives on another host:
      :class:`LockHeldError` (nothing is changed).
    * Lock held although the recorded holder's pid is gone from this host: the lock file is
      replaced by a fresh one, so the next acquirer gets the lock; whatever process still holds
      the old file keeps a lock nobody else looks at.
    """
    lock_path = lock_path_for(Path(state_path))
    try:
        fd = os.open(lock_path, os.O_RDWR | _O_CLOEXEC)
    except FileNotFoundError:
        raise StateError(f"state is not locked ({lock_path} does not exist)") from None
    except OSError as exc:
        raise StateError(f"cannot open lock file {lock_path}: {exc.strerror or exc}") from exc
    try:
        info = _read_info(fd)
        _check_id(lock_path, info, lock_id)
        assert info is not None
        if _try_flock(fd, lock_path):
            _write_info(fd, None)  # stale info of a holder that died; the lock was free
            return info
        if info.host != socket.gethostname():
            raise LockHeldError(
                f"{_held_message(lock_path, info)}; it runs on another host, so this host "
                "cannot tell whether it is still alive"
            )
        if _pid_alive(info.pid):
            raise LockHeldError(
                f"{_held_message(lock_path, info)}; that process is still running, stop it "
                "instead of forcing the lock"
            )
        _check_directory_free(lock_path.parent, info)
        _break(lock_path, fd, info)
        return info
    finally:
        os.close(fd)


def _check_id(lock_path: Path, info: LockInfo | None, lock_id: str) -> None:
    if info is None:
        raise StateError(f"state is not locked (no holder recorded in {lock_path})")
    if info.id != lock_id:
        raise StateError(
            f"lock id {lock_id} does not match the current lock ({info.id}, held by "
            f"{info.describe()}); nothing was unlocked"
        )


def _check_directory_free(directory: Path, info: LockInfo) -> None:
    """Refuse to break a lock while some process holds the state directory's lock."""
    dir_fd, _ = _open_dir(directory)  # it exists: it holds the lock file
    try:
        if not _try_flock(dir_fd, directory):
            raise LockHeldError(
                f"the recorded holder (pid {info.pid}) is gone, but another process still holds "
                f"the lock on {directory} (one that inherited the holder's descriptors?); stop "
                "that process to free the lock"
            )
    finally:
        _close(dir_fd)


def _break(lock_path: Path, fd: int, info: LockInfo) -> None:
    """Replace a lock file held by an unknown process, after making sure it is still stale."""
    for _ in range(3):  # a new holder may have just locked the file and not yet written its info
        time.sleep(_POLL_INTERVAL_S)
        current = _read_info(fd)
        if current != info:
            raise LockHeldError(
                f"the lock changed hands while forcing it: {_held_message(lock_path, current)}"
            )
    tmp = lock_path.with_name(f".{lock_path.name}.{secrets.token_hex(6)}.tmp")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666))
        os.replace(tmp, lock_path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StateError(f"cannot replace lock file {lock_path}: {exc.strerror or exc}") from exc
