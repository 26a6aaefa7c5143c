"""Reading many manifest files on several cores.

Parsing, interpolating and validating manifests is CPU work in Python, one file independent of
the next once the partials are resolved (:meth:`ExtendsResolver.prepare`). For a large agents
directory :func:`load_files` splits the files into contiguous chunks and loads them in forked
worker processes, which inherit everything already loaded (settings, partials, the
environment); each returns its agents and problems, and the chunks are joined in file order, so
the result is exactly what loading the files one after another gives.

It stays in one process when that is as fast or safer: fewer than :data:`PARALLEL_MIN_FILES`
files, one usable CPU, no ``fork`` start method (Windows), or other threads running (forking a
multi-threaded process can deadlock). If the pool
cannot be started or breaks, the files are loaded in this process instead. Workers die with
this process (see :func:`_die_with`), and never keep the state lock's descriptor (the state
lock drops it in forked children).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reconciler.errors import Location, Problem
from reconciler.models.desired import DesiredAgent
from reconciler.models.resources import DesiredResource

__all__ = ["PARALLEL_MIN_FILES", "LoadedBatch", "load_files", "worker_count"]

PARALLEL_MIN_FILES = 400
"""Below this many agent files, forking workers costs more than it saves."""
MAX_WORKERS = 4
CHUNKS_PER_WORKER = 4
"""More chunks than workers, so that a worker done early takes another (files differ in size)."""


@dataclass
class LoadedBatch:
    """What loading a batch of agent files gave: agents, problems and names (in file order)."""

    agents: list[DesiredAgent] = field(default_factory=list)
    resources: list[DesiredResource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    names: list[tuple[str, Location]] = field(default_factory=list)
    renames: list[tuple[str, Location]] = field(default_factory=list)
    """Each agent's ``renamed_from`` and where it is written."""
    invalid: list[str] = field(default_factory=list)
    """Addresses of Platform resources whose documents were refused (declared, but not built)."""


LoadFiles = Callable[[Sequence[str]], LoadedBatch]

_job: LoadFiles | None = None
"""The loader the workers run; set just before they are forked, so they inherit it."""


def worker_count(files: int) -> int:
    """How many processes to load ``files`` agent files with (1: this process only)."""
    if files < PARALLEL_MIN_FILES or not _can_fork():
        return 1
    affinity = getattr(os, "sched_getaffinity", None)  # Linux: the CPUs this process may use
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_WORKERS))


def _can_fork() -> bool:
    import multiprocessing

    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def _die_with(parent: int) -> None:
    """Worker initializer: never outlive the parent (killed with ``kill -9``, say).

    An orphaned worker would wait for work forever, holding the parent's output pipes open (a
    CI step waiting for them would hang). On Linux the kernel kills it when the parent dies
    (``PR_SET_PDEATHSIG``); elsewhere a thread checks for the parent every quarter second.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
                _watch(parent)
        except (OSError, AttributeError):  # no libc to call: fall back to watching
            _watch(parent)
    else:  # pragma: no cover - not Linux
        _watch(parent)
    if os.getppid() != parent:  # died before the worker was set up
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _watch(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _run(chunk: Sequence[str]) -> LoadedBatch:
    assert _job is not None, "worker started without a job"
    return _job(chunk)


def load_files(
    files: Sequence[str],
    load: LoadFiles,
    workers: int | None = None,
    *,
    meanwhile: Callable[[], None] | None = None,
) -> LoadedBatch:
    """``load(files)``, split over ``workers`` forked processes (default: :func:`worker_count`).

    Even an explicit ``workers`` stays in this process where forking is not possible or safe.
    ``meanwhile`` runs once in this process: while the workers load (after they are forked, so
    that they do not inherit what it reads), or first when the files load here.
    """
    count = worker_count(len(files)) if workers is None else workers
    if count <= 1 or len(files) < 2 or not _can_fork():
        if meanwhile is not None:
            meanwhile()
        return load(files)
    global _job
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    size = -(-len(files) // (count * CHUNKS_PER_WORKER))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    _job = load
    pending = [meanwhile] if meanwhile is not None else []
    try:
        with ProcessPoolExecutor(
            count, mp_context=get_context("fork"), initializer=_die_with, initargs=(os.getpid(),)
        ) as pool:
            results = pool.map(_run, chunks)  # forks the workers and hands them every chunk
            while pending:
                pending.pop()()
            parts = list(results)
    except (BrokenProcessPool, OSError):  # no fork possible, or a worker died: do it here
        while pending:
            pending.pop()()
        return load(files)
    finally:
        _job = None
    joined = LoadedBatch()
    for part in parts:
        joined.agents.extend(part.agents)
        joined.resources.extend(part.resources)
        joined.problems.extend(part.problems)
        joined.names.extend(part.names)
        joined.renames.extend(part.renames)
        joined.invalid.extend(part.invalid)
    return joined
