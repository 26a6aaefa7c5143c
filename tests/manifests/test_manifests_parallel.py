"""Loading a large agents directory on several cores gives exactly what loading it in one
process gives: the same agents, and the same problems in the same order."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import Location, SettingsError, ValidationError
from reconciler.manifests import load_desired
from reconciler.manifests.parallel import PARALLEL_MIN_FILES, LoadedBatch, load_files, worker_count
from tests.manifests.manifest_helpers import Project
from tests.processes import wait_gone

ENV = {"OPENAI_API_KEY": "sk-parallel-test", "VOICE": "en-US-AndrewNeural"}


def fill(project: Project, n: int, *, broken: bool) -> None:
    project.write(
        "agents.d/_base/llm.yaml",
        """\
        properties:
          llm:
            url: https://llm.example/v1/chat/completions
            api_key: ${OPENAI_API_KEY}
            params: {model: gpt-4o-mini}
        """,
    )
    for i in range(n):
        name = f"agent-{i:03d}"
        extra = "extends: _base/llm.yaml\n" if i % 2 else ""
        props = (
            f'idle_timeout: {i}\nasr:\n  vendor: deepgram\n  params: {{language: "${{VOICE}}"}}\n'
        )
        project.agent(f"team-{i % 3}/{name}.yaml", name, extra=extra, props=props)
    if broken:
        project.agent("team-0/dup.yaml", "agent-007")  # a name used twice, across files
        project.agent("team-1/typo.yaml", "typo", props="idle_timout: 3\n")
        project.agent("team-2/bad-env.yaml", "bad-env", props='asr: {vendor: "${MISSING}"}\n')
        project.agent("team-2/bad-extends.yaml", "bad-extends", extra="extends: _none.yaml\n")
        project.write("agents.d/team-1/not-yaml.yaml", "name: [unclosed\n")


def test_parallel_load_gives_the_same_agents_as_one_process(project: Project) -> None:
    fill(project, 60, broken=False)
    serial = load_desired(project.settings(), ENV, workers=1)
    parallel = load_desired(project.settings(), ENV, workers=3)
    assert len(serial.agents) == 60
    assert list(parallel.agents) == list(serial.agents)
    assert parallel == serial


def test_parallel_load_reports_the_same_problems_in_the_same_order(project: Project) -> None:
    fill(project, 60, broken=True)
    with pytest.raises(ValidationError) as serial:
        load_desired(project.settings(), ENV, workers=1)
    with pytest.raises(ValidationError) as parallel:
        load_desired(project.settings(), ENV, workers=3)
    lines = [str(p) for p in serial.value.problems]
    assert [str(p) for p in parallel.value.problems] == lines
    assert len(lines) == 6, lines  # the duplicate name is reported at both places
    assert sum("duplicate agent name 'agent-007'" in line for line in lines) == 2


def test_an_extends_cycle_is_reported_once_whichever_manifest_reaches_it_first(
    project: Project,
) -> None:
    project.write("agents.d/_base/a.yaml", "extends: _base/b.yaml\n")
    project.write("agents.d/_base/b.yaml", "properties: {}\nextends: _base/a.yaml\n")
    for i in range(12):
        target = "_base/b.yaml" if i % 2 else "_base/a.yaml"
        project.agent(f"x{i:02d}.yaml", f"x{i:02d}", extra=f"extends: {target}\n")
    for workers in (1, 4):
        with pytest.raises(ValidationError) as caught:
            load_desired(project.settings(), ENV, workers=workers)
        assert [str(p) for p in caught.value.problems] == [
            "agents.d/_base/b.yaml:2: extends cycle: _base/a.yaml -> _base/b.yaml -> _base/a.yaml"
        ]


def test_chunks_run_in_worker_processes_and_come_back_in_file_order() -> None:
    if threading.active_count() > 1:
        pytest.skip("another thread runs in this test process: nothing is forked")
    files = [f"agents.d/f{i:02d}.yaml" for i in range(40)]

    def load(chunk: Sequence[str]) -> LoadedBatch:
        return LoadedBatch(names=[(f, Location(f, os.getpid())) for f in chunk])

    result = load_files(files, load, workers=3)
    assert [name for name, _ in result.names] == files
    pids = {where.line for _, where in result.names}
    assert pids and os.getpid() not in pids and len(pids) <= 3  # which worker takes which: free


def test_a_worker_that_dies_makes_the_files_load_in_this_process() -> None:
    parent = os.getpid()

    def load(chunk: Sequence[str]) -> LoadedBatch:
        if os.getpid() != parent:
            os._exit(7)  # a worker killed mid-way (OOM killer, a bug in a C extension)
        return LoadedBatch(names=[(f, Location(f)) for f in chunk])

    files = [f"f{i}" for i in range(10)]
    assert [name for name, _ in load_files(files, load, workers=2).names] == files


def test_small_projects_and_threaded_callers_load_in_one_process() -> None:
    assert worker_count(PARALLEL_MIN_FILES - 1) == 1
    assert worker_count(PARALLEL_MIN_FILES) >= 1
    started = threading.Event()
    stop = threading.Event()

    def busy() -> None:
        started.set()
        stop.wait(5)

    other = threading.Thread(target=busy)
    other.start()
    try:
        started.wait(5)
        assert worker_count(10 * PARALLEL_MIN_FILES) == 1  # forking with threads can deadlock
    finally:
        stop.set()
        other.join()


def test_reconciler_workers_sets_how_many_processes_read_the_manifests(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 6, broken=False)
    asked: list[int | None] = []
    real = load_files

    def spy(
        files: Sequence[str], load: Any, workers: int | None = None, *, meanwhile: Any = None
    ) -> LoadedBatch:
        asked.append(workers)
        return real(files, load, workers, meanwhile=meanwhile)

    monkeypatch.setattr("reconciler.manifests.parallel.load_files", spy)
    load_desired(project.settings(), {**ENV, "RECONCILER_WORKERS": "1"})
    load_desired(project.settings(), ENV)
    assert asked == [1, None]
    for bad in ("0", "two", "-1"):
        with pytest.raises(SettingsError, match="RECONCILER_WORKERS must be a whole number"):
            load_desired(project.settings(), {**ENV, "RECONCILER_WORKERS": bad})


@pytest.mark.slow
def test_workers_die_with_a_parent_killed_with_kill_9(tmp_path: Path) -> None:
    """Regression: orphaned workers waited for work forever, holding the killed process's
    output pipes (and, before the state lock dropped it in children, the lock)."""
    script = f"""
import os, sys, time
from pathlib import Path
from reconciler.manifests.parallel import LoadedBatch, load_files
where = Path({str(tmp_path)!r})
def load(chunk):
    (where / f"worker-{{os.getpid()}}").touch()
    time.sleep(30)
    return LoadedBatch()
load_files([f"f{{i}}" for i in range(8)], load, workers=2)
"""
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while len(list(tmp_path.glob("worker-*"))) < 2:
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.02)
    workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
    parent.kill()
    assert parent.stdout is not None
    with parent.stdout:
        readable, _, _ = select.select([parent.stdout], [], [], 5)
        assert readable, "the killed process's output stayed open: a worker still holds it"
        assert parent.stdout.read() == b""  # EOF: no worker holds the pipe any more
    parent.wait(timeout=5)
    for pid in workers:
        assert wait_gone(pid, 5), f"worker {pid} outlived its parent"


def test_meanwhile_runs_once_in_this_process_after_the_workers_are_forked(
    project: Project,
) -> None:
    ran: list[int] = []

    def meanwhile() -> None:
        ran.append(os.getpid())
        _SEEN["meanwhile"] = True  # a worker forked after this would see it

    def load(files: Sequence[str]) -> LoadedBatch:
        # Each chunk's result says which process loaded it and what that process saw.
        return LoadedBatch(invalid=[f"{os.getpid()} {_SEEN.get('meanwhile', False)}"])

    _SEEN.clear()
    try:
        seen = load_files([f"f{i}" for i in range(12)], load, 2, meanwhile=meanwhile).invalid
    finally:
        _SEEN.clear()
    assert ran == [os.getpid()]
    assert len(seen) > 1
    assert all(not pid.startswith(f"{os.getpid()} ") for pid in seen)  # loaded in workers
    assert all(entry.endswith(" False") for entry in seen)


def test_meanwhile_gives_the_same_agents_with_workers_or_without(project: Project) -> None:
    fill(project, 12, broken=False)
    calls: list[str] = []
    serial = load_desired(project.settings(), ENV, workers=1, meanwhile=lambda: calls.append("1"))
    forked = load_desired(project.settings(), ENV, workers=2, meanwhile=lambda: calls.append("2"))
    assert forked == serial and calls == ["1", "2"]


def test_meanwhile_runs_first_when_the_files_load_in_this_process(project: Project) -> None:
    fill(project, 3, broken=False)
    order: list[str] = []

    def load(files: Sequence[str]) -> LoadedBatch:
        order.append("load")
        return LoadedBatch()

    load_files(["a", "b", "c"], load, 1, meanwhile=lambda: order.append("meanwhile"))
    assert order == ["meanwhile", "load"]


_SEEN: dict[str, bool] = {}
