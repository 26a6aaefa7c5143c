"""StateLock and force_unlock: exclusion across processes and objects, holder info, release."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import EXIT_CONFLICT, LockHeldError, StateError
from reconciler.state import LockInfo, StateLock, force_unlock, lock_path_for
from reconciler.state.holder import ci_run_from_env
from tests.state.conftest import FakeWait, HolderFactory

CI_VARS = (
    "GITHUB_RUN_ID", "GITHUB_REPOSITORY", "GITHUB_SERVER_URL", "CI_JOB_URL",
    "BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL", "TRAVIS_BUILD_WEB_URL", "BUILD_URL",
    "BUILD_BUILDID", "SYSTEM_COLLECTIONURI", "BITBUCKET_BUILD_NUMBER",
)  # fmt: skip


@pytest.fixture(autouse=True)
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in CI_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "agents.json"


@pytest.fixture
def lock(state_path: Path) -> Iterator[StateLock]:
    lk = StateLock(state_path)
    yield lk
    lk.release()


def _recorded(state_path: Path) -> LockInfo | None:
    return LockInfo.from_json(lock_path_for(state_path).read_text(encoding="utf-8"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- holder info ---------------------------------------------------------------------------------


def test_acquire_records_the_holder(state_path: Path, lock: StateLock) -> None:
    info = lock.acquire(command="apply")
    assert lock.held and lock.info == info
    assert lock.lock_path == state_path.with_name("agents.json.lock")
    assert str(uuid.UUID(info.id)) == info.id
    assert info.pid == os.getpid()
    assert info.who.endswith("@" + socket.gethostname()) and info.host == socket.gethostname()
    assert info.command == "apply"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info.started_at)
    assert info.ci_run is None
    raw = json.loads(lock.lock_path.read_text(encoding="utf-8"))
    assert raw == {
        "id": info.id,
        "who": info.who,
        "pid": info.pid,
        "command": "apply",
        "started_at": info.started_at,
        "ci_run": None,
    }


def test_ci_run_is_recorded(lock: StateLock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "987")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/agents")
    assert lock.acquire().ci_run == "https://github.com/acme/agents/actions/runs/987"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"GITHUB_RUN_ID": "1", "GITHUB_REPOSITORY": "o/r", "GITHUB_SERVER_URL": "https://g.e/"},
         "https://g.e/o/r/actions/runs/1"),
        ({"GITHUB_RUN_ID": "1"}, "GitHub Actions run 1"),
        ({"CI_JOB_URL": "https://gitlab.example/j/5"}, "https://gitlab.example/j/5"),
        ({"BUILDKITE_BUILD_URL": "https://buildkite.com/b/7"}, "https://buildkite.com/b/7"),
        ({"CIRCLE_BUILD_URL": "https://circleci.com/x/9"}, "https://circleci.com/x/9"),
        ({"BUILD_URL": "https://jenkins/job/3/"}, "https://jenkins/job/3/"),
        ({"SYSTEM_COLLECTIONURI": "https://dev.azure.com/o/", "SYSTEM_TEAMPROJECT": "p",
          "BUILD_BUILDID": "4"}, "https://dev.azure.com/o/p/_build/results?buildId=4"),
        ({"CI_JOB_URL": ""}, None),
    ],
)  # fmt: skip
def test_ci_run_from_env(env: dict[str, str], expected: str | None) -> None:
    assert ci_run_from_env(env) == expected


def test_release_clears_the_info_and_keeps_a_lock_file_it_found(lock: StateLock) -> None:
    lock.lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock.lock_path.write_bytes(b"")
    lock.acquire()
    lock.release()
    assert not lock.held and lock.info is None
    assert lock.lock_path.exists()
    assert lock.lock_path.read_bytes() == b""
    lock.release()  # idempotent


def test_release_removes_the_lock_file_and_directories_it_created(tmp_path: Path) -> None:
    lock = StateLock(tmp_path / "a" / "state" / "agents.json")
    lock.acquire()
    assert lock.lock_path.exists()
    lock.release()
    assert not (tmp_path / "a").exists()


def test_release_keeps_the_directory_once_the_state_was_written(tmp_path: Path) -> None:
    state = tmp_path / "state" / "agents.json"
    lock = StateLock(state)
    lock.acquire()
    state.write_text("{}", encoding="utf-8")
    lock.release()
    assert state.exists() and not lock.lock_path.exists()


def test_context_manager(state_path: Path) -> None:
    with StateLock(state_path, command="plan") as info:
        assert info.command == "plan"
        with pytest.raises(LockHeldError):
            StateLock(state_path).acquire()
    again = StateLock(state_path)
    again.acquire()  # free again
    again.release()
    explicit = StateLock(state_path)
    taken = explicit.acquire(command="apply")
    with explicit as info:
        assert info == taken
    assert not explicit.held


def test_a_lock_nobody_references_any_more_is_released_like_a_file(state_path: Path) -> None:
    abandoned = StateLock(state_path)
    abandoned.acquire(command="apply")
    del abandoned
    gc.collect()
    again = StateLock(state_path)
    assert again.acquire(command="plan").command == "plan"  # at once: timeout 0
    assert again.held
    again.release()


def test_acquiring_twice_with_one_object_is_a_bug(lock: StateLock) -> None:
    lock.acquire()
    with pytest.raises(RuntimeError, match="already held"):
        lock.acquire()


# -- exclusion -----------------------------------------------------------------------------------


def test_two_locks_in_one_process_exclude_each_other(state_path: Path, lock: StateLock) -> None:
    first = lock.acquire(command="apply")
    second = StateLock(state_path)
    with pytest.raises(LockHeldError) as caught:
        second.acquire(command="plan")
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_CONFLICT
    assert message == (
        f"state is locked by {first.who} (pid {os.getpid()}) running 'apply' since "
        f"{first.started_at}, lock id {first.id} (lock file {state_path}.lock); wait with "
        "--lock-timeout or, if that process is gone on a backend without OS locks, run "
        f"`reconciler force-unlock {first.id}`"
    )
    assert not second.held
    assert _recorded(state_path) == first  # the refused acquirer changed nothing
    lock.release()
    assert second.acquire().id != first.id
    second.release()


def test_another_process_holding_the_lock_fails_at_once(
    state_path: Path, holder: HolderFactory, waited: FakeWait
) -> None:
    env = {**os.environ, "CI_JOB_URL": "https://gitlab.example/jobs/42"}
    other = holder(state_path, env=env)
    with pytest.raises(LockHeldError) as caught:
        StateLock(state_path).acquire()
    assert waited.sleeps == [], "refused at once, without polling"
    message = str(caught.value)
    assert f"(pid {other.proc.pid}) running 'apply'" in message
    assert "in CI run https://gitlab.example/jobs/42" in message
    assert f"lock id {other.lock_id}" in message
    assert f"`reconciler force-unlock {other.lock_id}`" in message
    other.release()
    assert other.proc.returncode == 0
    with StateLock(state_path):
        pass


def test_timeout_waits_for_the_holder_to_release(state_path: Path, holder: HolderFactory) -> None:
    other = holder(state_path)
    lk = StateLock(state_path)
    with pytest.raises(LockHeldError):
        lk.acquire()  # held now
    stdin = other.proc.stdin
    assert stdin is not None

    def tell_holder_to_release() -> None:
        stdin.write("\n")
        stdin.flush()

    timer = threading.Timer(0.2, tell_holder_to_release)
    timer.start()
    try:
        info = lk.acquire(timeout=120.0, command="apply")  # generous: only a hang reaches it
    finally:
        timer.join()
    assert info.pid == os.getpid() and info.id != other.lock_id
    assert _recorded(state_path) == info
    lk.release()
    assert other.proc.wait(timeout=10) == 0


def test_timeout_expires(state_path: Path, lock: StateLock, waited: FakeWait) -> None:
    held = lock.acquire(command="apply")
    with pytest.raises(LockHeldError, match=r"^timed out after 0\.2s waiting for the state lock: "):
        StateLock(state_path).acquire(timeout=0.2)
    assert sum(waited.sleeps) >= 0.2 and len(waited.sleeps) > 1, "polled until the timeout"
    assert _recorded(state_path) == held


def test_killed_holder_releases_the_lock(state_path: Path, holder: HolderFactory) -> None:
    other = holder(state_path)
    with pytest.raises(LockHeldError):
        StateLock(state_path).acquire()
    other.kill()  # SIGKILL: no cleanup ran
    stale = _recorded(state_path)
    assert stale is not None and stale.id == other.lock_id  # its info is still there...
    with StateLock(state_path, command="apply") as info:  # ...but the lock is free
        assert _recorded(state_path) == info


def test_lock_file_replaced_while_waiting_is_followed(state_path: Path) -> None:
    lock_path = lock_path_for(state_path)
    lock_path.parent.mkdir(parents=True)
    lock_path.touch()
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # an anonymous holder of the old file
        fresh = lock_path.with_name("fresh")
        fresh.touch()
        os.replace(fresh, lock_path)
        with StateLock(state_path) as info:
            assert _recorded(state_path) == info
    finally:
        os.close(fd)


def test_empty_holder_info_still_refuses_after_a_grace_period(
    state_path: Path, monkeypatch: pytest.MonkeyPatch, waited: FakeWait
) -> None:
    monkeypatch.setattr("reconciler.state.lockwait.HOLDER_WRITE_GRACE_S", 0.2)
    lock_path = lock_path_for(state_path)
    lock_path.parent.mkdir(parents=True)
    lock_path.touch()
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockHeldError, match="locked by another process"):
            StateLock(state_path).acquire()
        assert sum(waited.sleeps) >= 0.2, "waited the grace period for the holder's info"
    finally:
        os.close(fd)


def test_refusal_names_a_holder_that_writes_its_info_just_after_locking(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (CI): four applies at once; a loser read the lock file in the instant between
    the winner's flock and its info write, and refused without naming the holder."""
    monkeypatch.setattr("reconciler.state.lockwait.HOLDER_WRITE_GRACE_S", 10.0)  # a slow machine
    lock_path = lock_path_for(state_path)
    lock_path.parent.mkdir(parents=True)
    lock_path.touch()
    fd = os.open(lock_path, os.O_RDWR)
    holder = LockInfo(
        id="late-writer", who="ci@runner", pid=os.getpid(), command="apply", started_at="now"
    )
    late_write = threading.Timer(0.3, lambda: os.pwrite(fd, holder.to_json().encode(), 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        late_write.start()
        with pytest.raises(LockHeldError, match="running 'apply' since now, lock id late-writer"):
            StateLock(state_path).acquire()
    finally:
        late_write.join()
        os.close(fd)


def test_a_lock_released_before_its_holder_wrote_info_is_taken(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reconciler.state.lockwait.HOLDER_WRITE_GRACE_S", 10.0)  # a slow machine
    lock_path = lock_path_for(state_path)
    lock_path.parent.mkdir(parents=True)
    lock_path.touch()
    fd = os.open(lock_path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    early_release = threading.Timer(0.2, lambda: os.close(fd))
    early_release.start()
    try:
        with StateLock(state_path) as info:
            assert _recorded(state_path) == info
    finally:
        early_release.join()


# -- force-unlock --------------------------------------------------------------------------------


def test_force_unlock_without_a_lock_file(state_path: Path) -> None:
    with pytest.raises(StateError, match="not locked"):
        force_unlock(state_path, "whatever")


def test_force_unlock_of_a_free_lock(state_path: Path, lock: StateLock) -> None:
    lock.acquire()
    lock.release()
    with pytest.raises(StateError, match="not locked"):
        force_unlock(state_path, "whatever")


def test_force_unlock_clears_info_left_by_a_killed_holder(
    state_path: Path, holder: HolderFactory
) -> None:
    other = holder(state_path)
    other.kill()
    with pytest.raises(StateError, match=rf"lock id nope does not match .*{other.lock_id}"):
        force_unlock(state_path, "nope")
    assert _recorded(state_path) is not None
    info = force_unlock(state_path, other.lock_id)
    assert info.id == other.lock_id and info.pid == other.proc.pid
    assert lock_path_for(state_path).read_bytes() == b""


def test_force_unlock_refuses_a_live_holder(state_path: Path, holder: HolderFactory) -> None:
    other = holder(state_path)
    with pytest.raises(StateError, match="does not match"):
        force_unlock(state_path, "nope")
    with pytest.raises(LockHeldError, match="still running") as caught:
        force_unlock(state_path, other.lock_id)
    assert caught.value.exit_code == EXIT_CONFLICT
    assert _recorded(state_path) is not None
    with pytest.raises(LockHeldError):
        StateLock(state_path).acquire()  # still held
    other.release()


def test_force_unlock_refuses_a_holder_on_another_host(state_path: Path) -> None:
    _hold_with_info(state_path, who="bob@elsewhere", pid=_dead_pid())
    with pytest.raises(LockHeldError, match="another host"):
        force_unlock(state_path, "lock-1")


def test_force_unlock_breaks_a_lock_whose_recorded_holder_is_gone(state_path: Path) -> None:
    # The recorded holder died, but something else (e.g. a child that inherited the descriptor)
    # still holds the kernel lock: force-unlock replaces the lock file.
    pid = _dead_pid()
    fd = _hold_with_info(state_path, who=f"alice@{socket.gethostname()}", pid=pid)
    try:
        with pytest.raises(LockHeldError):
            StateLock(state_path).acquire()
        info = force_unlock(state_path, "lock-1")
        assert info.pid == pid
        assert lock_path_for(state_path).read_bytes() == b""
        with StateLock(state_path, command="apply") as mine:
            assert _recorded(state_path) == mine
    finally:
        os.close(fd)


def test_force_unlock_does_not_break_a_lock_that_changes_hands(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fd = _hold_with_info(state_path, who=f"alice@{socket.gethostname()}", pid=_dead_pid())
    newcomer = _info("lock-2", f"carol@{socket.gethostname()}", os.getpid())
    real_sleep = time.sleep

    def sleep_then_new_holder(seconds: float) -> None:
        real_sleep(0)
        os.pwrite(fd, newcomer.to_json().encode(), 0)

    monkeypatch.setattr(time, "sleep", sleep_then_new_holder)
    try:
        with pytest.raises(LockHeldError, match=r"changed hands.*carol"):
            force_unlock(state_path, "lock-1")
    finally:
        monkeypatch.undo()
        os.close(fd)


def _info(lock_id: str, who: str, pid: int) -> LockInfo:
    return LockInfo(
        id=lock_id, who=who, pid=pid, command="apply", started_at="2026-11-24T19:00:00Z"
    )


def _hold_with_info(state_path: Path, *, who: str, pid: int) -> int:
    """Hold the kernel lock on a raw descriptor with holder info naming someone else."""
    lock_path = lock_path_for(state_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(fd, 0)
    os.pwrite(fd, _info("lock-1", who, pid).to_json().encode(), 0)
    return fd


def test_lock_info_parsing() -> None:
    info = _info("x", "a@b", 1)
    assert LockInfo.from_json(info.to_json()) == info
    assert LockInfo.from_json("") is None
    assert LockInfo.from_json('{"id": "x"') is None
    assert LockInfo.from_json("[]") is None
    assert LockInfo.from_json('{"id": "x", "who": "a@b", "pid": "nan?"}') is None
    assert info.describe() == "a@b (pid 1) running 'apply' since 2026-11-24T19:00:00Z"


def test_a_forked_child_does_not_keep_the_lock_when_its_parent_is_killed(
    state_path: Path,
) -> None:
    """Regression: manifest-reading workers forked while apply held the lock kept the lock's
    descriptor, so after a ``kill -9`` of apply the next run found the state locked."""
    script = f"""
import os, signal, sys, time
from pathlib import Path
from reconciler.state import StateLock
lock = StateLock(Path({str(state_path)!r}))
lock.acquire()
child = os.fork()
if child == 0:
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    time.sleep(30)
    os._exit(0)
print(child, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    child = int(done.stdout.split()[0])
    try:
        assert done.returncode == -signal.SIGKILL, done.stderr
        with StateLock(state_path) as info:  # timeout 0: refused if the child still held it
            assert info.pid == os.getpid()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
