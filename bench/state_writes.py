"""State writes of an apply: the whole document per write against the write log.

An apply writes state after every group commit (N = 1,000 at P = 50: about 150 writes, each
recording the starts just answered and journaling the next ones). This replays such a sequence
in process with the product's own store, on the records of N generated agents: 2 x N / B
writes of B agents each (``--batch``, default 7; each change made as apply makes it,
``apply_agent_changes``), once rewriting the whole document per write
(a store outside ``write_log()``), once through the write log (as apply writes), whose
compaction at the end is timed apart. No engine involved.

- Figures: CPU seconds of the writes (and wall, which adds the fsyncs), per variant, and the
  share of the whole document's CPU the write log takes (writes plus compaction).
- Bound: O(changed records): the write log's CPU per write at the largest N over that at the
  smallest <= 1.5 (the whole document's grows with N).

Usage: python bench/state_writes.py [--n 200,1000] [--batch 7] [--runs 3] [--whole-up-to 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import benchlib as b

from reconciler.apply.run import AgentChange, apply_agent_changes
from reconciler.models.state import AgentRecord, JournalEntry, StateDoc
from reconciler.state import LocalStateStore

BOUND = 1.5


def records(tmp: Path, n: int) -> tuple[StateDoc, list[AgentRecord]]:
    directory = tmp / f"project-{n}"
    b.write_project(directory, n)
    b.record_state(directory)
    doc = LocalStateStore(directory / "state" / "agents.json").load()
    return doc.model_copy(update={"agents": {}, "journal": []}), list(doc.agents.values())


def entry(record: AgentRecord) -> JournalEntry:
    return JournalEntry(
        id=f"e-{record.name}", op="join", name=record.name, wire_name=record.wire_name,
        generation=record.generation, channel=record.channel, created_at=1.0,
        spec=record.spec, spec_digest=record.spec_digest,
    )  # fmt: skip


def writes(
    tmp: Path, empty: StateDoc, made: list[AgentRecord], batch: int, logged: bool
) -> dict[str, float]:
    """CPU and wall of the writes, and of the compaction after them (write log only)."""
    store = LocalStateStore(tmp / f"state-{time.monotonic_ns()}" / "agents.json")
    doc = store.write(empty)
    log: AbstractContextManager[None] = store.write_log() if logged else nullcontext()
    log.__enter__()
    cpu, wall, count = time.process_time(), time.perf_counter(), 0
    for first in range(0, len(made), batch):
        group = made[first : first + batch]
        entries = [entry(r) for r in group]
        doc = store.write(apply_agent_changes(doc, [AgentChange(add=tuple(entries))]))
        done = frozenset(e.id for e in entries)
        doc = store.write(apply_agent_changes(doc, [AgentChange(settle=done, put=tuple(group))]))
        count += 2
    figures = {
        "writes": count,
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
    }
    cpu, wall = time.process_time(), time.perf_counter()
    log.__exit__(None, None, None)
    figures.update(compact_cpu=time.process_time() - cpu, compact_wall=time.perf_counter() - wall)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="200,1000")
    parser.add_argument("--batch", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--whole-up-to",
        type=int,
        default=5000,
        help="run the whole-document variant only up to this N (quadratic: minutes at 20,000)",
    )
    args = parser.parse_args()
    ok = True
    per_write: list[float] = []
    with tempfile.TemporaryDirectory(prefix="state-writes-") as tmp_name:
        tmp = Path(tmp_name)
        for n in [int(s) for s in args.n.split(",")]:
            empty, made = records(tmp, n)
            runs = range(args.runs)
            whole = [
                writes(tmp, empty, made, args.batch, False) for _ in runs if n <= args.whole_up_to
            ]
            logged = [writes(tmp, empty, made, args.batch, True) for _ in runs]
            count = int(logged[0]["writes"])
            log_cpu = b.median([f["cpu"] for f in logged])
            compact_cpu = b.median([f["compact_cpu"] for f in logged])
            log_wall = b.median([f["wall"] for f in logged])
            compact_wall = b.median([f["compact_wall"] for f in logged])
            if whole:
                whole_cpu = b.median([f["cpu"] for f in whole])
                whole_wall = b.median([f["wall"] for f in whole])
                against = (
                    f"whole document CPU {whole_cpu:.3f} s (wall {whole_wall:.2f} s); "
                    f"{(log_cpu + compact_cpu) / whole_cpu:.2f} of the CPU"
                )
            else:
                against = "whole document not run (--whole-up-to)"
            print(
                f"state writes N={n}: {count} writes; write log CPU {log_cpu:.3f} s "
                f"({1000 * log_cpu / count:.3f} ms a write; wall {log_wall:.2f} s) + compaction "
                f"CPU {compact_cpu:.3f} s (wall {compact_wall:.2f} s); {against}",
                flush=True,
            )
            per_write.append(log_cpu / count)
    if len(per_write) > 1:
        growth = per_write[-1] / per_write[0]
        ok &= b.verdict(
            "write log CPU per write, largest N over smallest", growth, BOUND, f"{growth:.2f}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
