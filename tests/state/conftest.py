"""Shared helpers of the state tests: sample documents and a lock holder in another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from reconciler.models.state import AgentRecord, StateDoc
from tests.state.pg import pg_url as pg_url

HOLDER = """
import sys, time
from pathlib import Path
from reconciler.state.local.lock import StateLock

lock = StateLock(Path(sys.argv[1]))
info = lock.acquire(command="apply")
print(info.id, flush=True)
if sys.argv[2] == "release-after":
    time.sleep(float(sys.argv[3]))
    lock.release()
else:
    sys.stdin.readline()  # hold until told (or killed)
    lock.release()
"""


def make_record(name: str, generation: int = 1, started_at: float = 1_790_000_000.0) -> AgentRecord:
    return AgentRecord(
        name=name,
        agent_id=f"A{name.upper().replace('-', '')}",
        wire_name=f"{name}-{generation}",
        generation=generation,
        channel=name,
        started_at=started_at,
        token_mode="auto",
        token_expires_at=started_at + 86400,
        spec={"channel": name, "llm": {"api_key": {"$sensitive": "sha256:ab"}, "url": "u"}},
        spec_digest="sha256:0123",
    )


def make_doc(*names: str, lineage: str = "11111111-2222-3333-4444-555555555555") -> StateDoc:
    return StateDoc(
        lineage=lineage,
        salt="00" * 16,
        agents={name: make_record(name) for name in names},
    )


class Holder:
    """A python process holding the state lock until told to release or killed."""

    def __init__(self, proc: subprocess.Popen[str], lock_id: str) -> None:
        self.proc = proc
        self.lock_id = lock_id

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=10)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


HolderFactory = Callable[..., Holder]


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[HolderFactory]:
    procs: list[subprocess.Popen[str]] = []

    def start(
        state_path: Path,
        mode: str = "hold",
        seconds: float = 0.0,
        env: Mapping[str, str] | None = None,
    ) -> Holder:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(state_path), mode, str(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=None if env is None else dict(env),
        )
        procs.append(proc)
        assert proc.stdout is not None
        lock_id = proc.stdout.readline().strip()
        assert lock_id, f"holder failed to start (exit {proc.wait(timeout=10)})"
        return Holder(proc, lock_id)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


class FakeWait:
    """The clock and sleep of the state locks' polling loop, made instant: each sleep is
    recorded and moves the clock on by as much, so a test sees how long a lock waited without
    waiting (or depending on how fast the machine is)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> FakeWait:
    """The state locks wait on a :class:`FakeWait` during the test."""
    from reconciler.state import lockwait

    fake = FakeWait()
    monkeypatch.setattr(lockwait, "clock", fake.clock)
    monkeypatch.setattr(lockwait, "sleep", fake.sleep)
    return fake
