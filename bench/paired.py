"""Paired A/B of this checkout against another revision: CPU and wall of the same commands.

On a machine others use too, wall times move with the load; the CPU time of a command (user +
system, of the process and its children: the worker processes of a plan) moves much less, and
pairs run back to back see the same load. So each figure here is a pair of runs, A (the revision
given, extracted with ``git archive`` into a temporary directory) then B (this checkout), the
order swapped every other pair, after one warm-up run of each (``.pyc`` files); the medians of
each side and the median of the per-pair ratios B / A are printed, with the load average.

Scenarios (``--scenarios``, comma-separated):

- ``plan5000``: ``plan --no-refresh`` (text) of 5,000 recorded manifests, 10% changed (half
  restarts, half in-place updates); both sides' outputs compared byte for byte;
- ``new2000``: ``plan --no-refresh --format json`` of 2,000 new agents (a new state each run,
  so the outputs differ by their random lineage and salt: not compared);
- ``applyN-P``: ``apply --auto-approve --no-wait --parallelism P`` of N new agents on a fresh
  served sandbox with L = 100 ms a call (``apply200-50``).

Usage: python bench/paired.py --base REV [--scenarios plan5000,new2000,apply200-50] [--pairs 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib as b


def extract(rev: str, into: Path) -> Path:
    """The ``reconciler`` package of ``rev``, extracted under ``into`` (for ``PYTHONPATH``)."""
    archive = subprocess.run(
        ["git", "archive", rev, "reconciler"], cwd=b.ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def prepare(tmp: Path, scenario: str) -> Path:
    """The project a plan scenario runs in (made once, shared by both sides)."""
    directory = tmp / scenario
    if scenario == "plan5000":
        b.write_project(directory, 5000)
        b.record_state(directory)
        for i in range(5000):
            if b.differing(i):
                path = directory / "agents.d" / f"{b.agent_name(i)}.yaml"
                path.write_text(b.manifest_text(i, variant=b.differing(i)), encoding="utf-8")
    elif scenario == "new2000":
        b.write_project(directory, 2000)
    return directory


def run(tree: Path, scenario: str, project: Path, tmp: Path) -> b.ChildRun:
    """One timed run of ``scenario`` with the package at ``tree``."""
    env = b.bench_env(PYTHONPATH=str(tree))  # .pyc files written and used on both sides
    if scenario.startswith("apply"):
        n, parallelism = (int(x) for x in scenario.removeprefix("apply").split("-"))
        db = tmp / f"engine-{time.monotonic_ns()}.db"
        with b.ServedSandbox(db, latency_ms=100, pcu_limit=100 * n) as sandbox:
            directory = tmp / f"apply-{tree.name}"
            cap = max(1000, 4 * n)
            b.write_project(directory, n, engine=sandbox.engine_url, parallelism=None, cap=cap)
            argv = [*b.RECONCILER, "apply", "--auto-approve", "--no-wait"]
            return b.run_child([*argv, "--parallelism", str(parallelism)], cwd=directory, env=env)
    if scenario == "new2000":
        (project / "state" / "agents.json").unlink(missing_ok=True)
    argv = [*b.RECONCILER, "plan", "--no-refresh"]
    argv += ["--format", "json"] if scenario == "new2000" else []
    return b.run_child(argv, cwd=project, env=env, ok_codes=(0, 2))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the revision of side A (B: this checkout)")
    parser.add_argument("--scenarios", default="plan5000,new2000,apply200-50")
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paired-") as name:
        tmp = Path(name)
        (tmp / "A").mkdir()
        trees = {"A": extract(args.base, tmp / "A"), "B": b.ROOT}
        for scenario in args.scenarios.split(","):
            project = prepare(tmp, scenario)
            for side in "AB":  # warm-up
                run(trees[side], scenario, project, tmp)
            runs: dict[str, list[b.ChildRun]] = {"A": [], "B": []}
            for i in range(args.pairs):
                for side in "AB" if i % 2 == 0 else "BA":
                    runs[side].append(run(trees[side], scenario, project, tmp))
            for side in "AB":
                walls = [r.wall for r in runs[side]]
                cpus = [r.cpu for r in runs[side]]
                print(f"{scenario} {side}: wall {b.median(walls):.3f} s {b.runs_text(walls)}, "
                      f"CPU {b.median(cpus):.3f} s {b.runs_text(cpus)}")  # fmt: skip
            pairs = list(zip(runs["A"], runs["B"], strict=True))
            wall = b.median([after.wall / before.wall for before, after in pairs])
            cpu = b.median([after.cpu / before.cpu for before, after in pairs])
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            same = ""
            if scenario == "plan5000":
                same = f"; outputs identical: {runs['A'][0].stdout == runs['B'][0].stdout}"
            print(f"{scenario} B / A, median of pairs: wall {wall:.3f}, CPU {cpu:.3f} "
                  f"(load average {load}){same}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
