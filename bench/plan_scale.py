"""Plan at scale: ``reconciler plan --no-refresh`` on generated projects of 100 to 20,000 agents.

Each project has one manifest file per agent (~40 lines: ``extends`` of a shared partial, two
``${VAR}`` interpolations, a multi-line prompt, labels, asr, tts) and a recorded state in which
every agent is running; then 10% of the manifests are edited (half a prompt change, an in-place
update; half a TTS voice change, a restart), so the plan has 10% changes.

Each measurement runs the real CLI as a subprocess (``python -m reconciler plan --no-refresh``,
stdout to a pipe), start-up included. The floor is the time PyYAML's C loader
(``yaml.load(text, Loader=yaml.CSafeLoader)``) takes to read and parse the same files in one
process, timed inside that process (interpreter start-up and ``import yaml`` excluded, which only
makes the bound stricter). Runs alternate floor and plan; the figures are medians.

The CLI reads an agents directory of 400 files or more with several processes (one per CPU,
up to 4; 2 on the reference machine); the same plan read by one process
(``RECONCILER_WORKERS=1``) is printed beside the bound for reference.

Bounds: wall(5,000) <= 1.5 x floor(5,000); wall(5,000) / wall(1,000) <= 6; peak RSS of
the plan at 20,000 manifests (``--rss-size``) <= 300 MB. The peak is ``ru_maxrss`` of the plan's
process from ``wait4``: the largest of that process and of the worker processes it forked and
waited for (each counted alone, not summed), not the sum of them; the plan is started by a
small helper process, so that this script's own size is not counted in (``benchlib.run_child_rss``).

``--new N[,N...]`` measures plans of new agents instead: a project of N manifests and no
recorded state (every agent is a ``start``), planned with ``plan --no-refresh --format json``.
Bounds: wall(2,000) <= 2.0 x floor(2,000); peak RSS at 20,000 new agents <= 300 MB.

Usage: python bench/plan_scale.py [--runs 5] [--sizes 100,1000,5000] [--rss-size 20000]
       python bench/plan_scale.py --new 2000,20000 [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import benchlib as b

FLOOR_RATIO_BOUND = 1.5
NEW_FLOOR_RATIO_BOUND = 2.0
LINEAR_BOUND = 6.0
RSS_BOUND_MB = 300.0

FLOOR_SCRIPT = """
import sys, time, yaml
from pathlib import Path
started = time.perf_counter()
files = sorted(Path(sys.argv[1]).rglob("*.yaml"))
docs = [list(yaml.load_all(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)) for p in files]
print(time.perf_counter() - started, len(docs))
"""


def make(directory: Path, n: int, *, new: bool = False) -> None:
    """Generate the project in a child process (see :func:`make_here`).

    Recording the state loads every manifest; done in this process, it would grow it by hundreds
    of MB, and a child forked from it would start with that resident size (``ru_maxrss`` counts
    it across ``exec``), spoiling the RSS figure.
    """
    if new:  # nothing recorded: the manifests alone, written from this process
        b.write_project(directory, n)
        return
    command = [sys.executable, __file__, "--make", str(directory), str(n)]
    b.run_child(command, cwd=b.ROOT, env=b.bench_env())


def make_here(directory: Path, n: int) -> None:
    """Generate the project, record every agent as applied, then make 10% differ."""
    b.write_project(directory, n)
    b.record_state(directory)
    for i in range(n):
        variant = b.differing(i)
        if variant:
            path = directory / "agents.d" / f"{b.agent_name(i)}.yaml"
            path.write_text(b.manifest_text(i, variant=variant), encoding="utf-8")


def floor_once(directory: Path) -> float:
    run = b.run_child(
        [sys.executable, "-c", FLOOR_SCRIPT, str(directory / "agents.d")],
        cwd=directory, env=b.bench_env(),
    )  # fmt: skip
    return float(run.stdout.split()[0])


def plan_once(
    directory: Path, *, rss: bool = False, workers: int | None = None, as_json: bool = False
) -> b.ChildRun:
    argv = [*b.RECONCILER, "plan", "--no-refresh", "--detailed-exitcode"]
    if as_json:
        argv += ["--format", "json"]
    runner = b.run_child_rss if rss else b.run_child
    env = b.bench_env() if workers is None else b.bench_env(RECONCILER_WORKERS=str(workers))
    run = runner(argv, cwd=directory, env=env, ok_codes=(2,))
    return run


def check_plan(directory: Path, n: int) -> None:
    run = plan_once(directory)
    summary = run.stdout.decode().strip().splitlines()[-1]
    changed = n // 10
    expected = f"{changed // 2} to update in place, {changed - changed // 2} to restart"
    if expected not in summary:
        raise SystemExit(f"unexpected plan at {n}: {summary!r} (wanted {expected!r})")


def check_new_plan(directory: Path, n: int) -> None:
    """Every agent is a start. Only the summary is decoded: decoding the whole document here
    would grow this process, and a child forked from it would inherit that peak RSS."""
    text = plan_once(directory, as_json=True).stdout.decode()
    summary, _ = json.JSONDecoder().raw_decode(text, text.index('"summary":') + len('"summary":'))
    if summary["start"] != n:
        raise SystemExit(f"unexpected plan of {n} new agents: {summary}")


def bench_new(sizes: list[int], runs: int, rss_runs: int) -> bool:
    """Plans of new agents, JSON output: wall against the floor, and peak RSS."""
    ok = True
    with tempfile.TemporaryDirectory(prefix="plan-new-") as tmp:
        for n in sizes:
            directory = Path(tmp) / f"new{n}"
            make(directory, n, new=True)
            check_new_plan(directory, n)  # also warms the page cache and the .pyc files
            walls, floors = [], []
            for _ in range(runs):
                floors.append(floor_once(directory))
                walls.append(plan_once(directory, as_json=True).wall)
            wall, floor = b.median(walls), b.median(floors)
            print(
                f"plan --no-refresh --format json, {n} new agents: wall {wall:.2f} s "
                f"{b.runs_text(walls)}; C-loader floor {floor:.2f} s {b.runs_text(floors)}",
                flush=True,
            )
            ok &= b.verdict(
                f"plan of {n:,} new agents (JSON) / C-loader floor", wall / floor,
                NEW_FLOOR_RATIO_BOUND, f"ratio {wall / floor:.2f} ({wall:.2f} s / {floor:.2f} s)",
            )  # fmt: skip
            runs_rss = [plan_once(directory, rss=True, as_json=True) for _ in range(rss_runs)]
            peaks = [run.maxrss_kb / 1024 for run in runs_rss]
            ok &= b.verdict(
                f"plan of {n:,} new agents (JSON) peak RSS", b.median(peaks), RSS_BOUND_MB,
                f"{b.median(peaks):.0f} MB {b.runs_text(peaks, 'MB', 0)}",
            )  # fmt: skip
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--rss-size", type=int, default=20_000)
    parser.add_argument("--rss-runs", type=int, default=3)
    parser.add_argument("--new", help="sizes of a plan of new agents, JSON output (2000,20000)")
    parser.add_argument("--make", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_here(Path(args.make[0]), int(args.make[1]))
        return 0
    if args.new:
        sizes = [int(s) for s in args.new.split(",")]
        return 0 if bench_new(sizes, args.runs, args.rss_runs) else 1
    sizes = [int(s) for s in args.sizes.split(",")]
    walls: dict[int, list[float]] = {}
    floors: dict[int, list[float]] = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="plan-scale-") as tmp:
        for n in sizes:
            directory = Path(tmp) / f"p{n}"
            make(directory, n)
            check_plan(directory, n)  # also warms the page cache and the .pyc files
            floor_once(directory)
            walls[n], floors[n] = [], []
            for _ in range(args.runs):
                floors[n].append(floor_once(directory))
                walls[n].append(plan_once(directory).wall)
            print(
                f"plan --no-refresh, {n} manifests: wall {b.median(walls[n]):.2f} s "
                f"{b.runs_text(walls[n])}; C-loader floor {b.median(floors[n]):.2f} s "
                f"{b.runs_text(floors[n])}",
                flush=True,
            )
        print()
        print("   N   plan wall (s)   floor (s)   wall/floor   ms per manifest")
        for n in sizes:
            wall, floor = b.median(walls[n]), b.median(floors[n])
            print(f"{n:>5}   {wall:>12.2f}   {floor:>9.2f}   {wall / floor:>10.2f}   "
                  f"{1000 * wall / n:>15.2f}")  # fmt: skip
        print()
        if 5000 in walls:
            ratio = b.median(walls[5000]) / b.median(floors[5000])
            ok &= b.verdict(
                "plan 5,000 wall / C-loader floor", ratio, FLOOR_RATIO_BOUND,
                f"ratio {ratio:.2f} ({b.median(walls[5000]):.2f} s / "
                f"{b.median(floors[5000]):.2f} s)",
            )  # fmt: skip
            one = [plan_once(Path(tmp) / "p5000", workers=1).wall for _ in range(args.runs)]
            print(f"  (the same plan read by one process, RECONCILER_WORKERS=1: wall "
                  f"{b.median(one):.2f} s {b.runs_text(one)}, ratio "
                  f"{b.median(one) / b.median(floors[5000]):.2f})", flush=True)  # fmt: skip
        if 5000 in walls and 1000 in walls:
            growth = b.median(walls[5000]) / b.median(walls[1000])
            ok &= b.verdict(
                "plan time(5,000) / time(1,000)", growth, LINEAR_BOUND,
                f"ratio {growth:.2f} ({b.median(walls[5000]):.2f} s / "
                f"{b.median(walls[1000]):.2f} s)",
            )  # fmt: skip
        if args.rss_size:
            n = args.rss_size
            directory = Path(tmp) / f"p{n}"
            make(directory, n)
            check_plan(directory, n)
            runs = [plan_once(directory, rss=True) for _ in range(args.rss_runs)]
            peaks = [r.maxrss_kb / 1024 for r in runs]
            peak = b.median(peaks)
            ok &= b.verdict(
                f"plan peak RSS at {n:,} manifests", peak, RSS_BOUND_MB,
                f"{peak:.0f} MB {b.runs_text(peaks, 'MB', 0)}, wall "
                f"{b.median([r.wall for r in runs]):.2f} s",
            )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
