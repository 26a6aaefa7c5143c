"""The state lock holds when its file is deleted or replaced while held (a second apply must not
run beside the first), and force-unlock never frees a lock some live process still holds."""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import LockHeldError, StateError
from reconciler.state import LockInfo, StateLock, force_unlock, lock_path_for
from tests.state.conftest import HolderFactory


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "agents.json"


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.state.lockwait.HOLDER_WRITE_GRACE_S", 0.1)


@pytest.fixture
def first(state_path: Path) -> Iterator[StateLock]:
    lock = StateLock(state_path)
    lock.acquire(command="apply")
    yield lock
    lock.release()


def test_deleting_the_lock_file_while_held_does_not_let_a_second_acquirer_in(
    state_path: Path, first: StateLock
) -> None:
    lock_path_for(state_path).unlink()
    second = StateLock(state_path)
    with pytest.raises(LockHeldError, match=r"lock file .* was removed while held"):
        second.acquire(command="apply")
    assert not second.held
    assert not lock_path_for(state_path).exists()  # the refused acquirer created nothing
    assert first.held
    first.release()
    with StateLock(state_path) as info:  # released: the next one gets it, on a new file
        assert LockInfo.from_json(lock_path_for(state_path).read_text()) == info


def test_replacing_the_lock_file_while_held_does_not_let_a_second_acquirer_in(
    state_path: Path, first: StateLock
) -> None:
    fresh = state_path.with_name("fresh")
    fresh.touch()
    os.replace(fresh, lock_path_for(state_path))
    with pytest.raises(LockHeldError, match="locked by another process"):
        StateLock(state_path).acquire()


def test_a_holder_in_another_process_keeps_the_lock_when_its_file_is_deleted(
    state_path: Path, holder: HolderFactory
) -> None:
    other = holder(state_path)
    lock_path_for(state_path).unlink()
    with pytest.raises(LockHeldError, match="was removed while held"):
        StateLock(state_path).acquire()
    other.release()
    with StateLock(state_path, command="apply"):
        pass


def test_a_replaced_state_directory_is_followed(state_path: Path) -> None:
    old = state_path.parent
    old.mkdir()
    stale = os.open(old, os.O_RDONLY)
    try:
        fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locks the directory about to go
        old.rename(old.with_name("state.old"))
        old.mkdir()
        with StateLock(state_path) as info:
            assert LockInfo.from_json(lock_path_for(state_path).read_text()) == info
    finally:
        os.close(stale)


def test_force_unlock_refuses_while_a_process_still_holds_the_directory(
    state_path: Path,
) -> None:
    """A process that inherited the holder's descriptors and outlived it still holds the lock;
    replacing the lock file would not free it, so force-unlock says so instead."""
    lock_path = lock_path_for(state_path)
    state_path.parent.mkdir()
    dir_fd = os.open(state_path.parent, os.O_RDONLY)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        gone = LockInfo(
            id="lock-1",
            who=f"alice@{socket.gethostname()}",
            pid=2**22 + 12345,  # above the default pid_max: no such process
            command="apply",
            started_at="2026-11-24T19:00:00Z",
        )
        os.pwrite(fd, gone.to_json().encode(), 0)
        with pytest.raises(LockHeldError, match=r"another process still holds the lock on"):
            force_unlock(state_path, "lock-1")
        assert LockInfo.from_json(lock_path.read_text()) == gone  # nothing was changed
    finally:
        os.close(fd)
        os.close(dir_fd)


def test_a_filesystem_that_cannot_lock_is_a_state_error_naming_the_path(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(StateError, match=rf"cannot lock {state_path.parent}: No locks available"):
        StateLock(state_path).acquire()
