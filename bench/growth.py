"""Growth: how plan and apply time grow with the number of agents N (a small table).

- plan: ``reconciler plan --no-refresh`` on generated projects with 10% of agents changed
  (as ``bench/plan_scale.py``), median of a few runs;
- apply: ``reconciler apply --auto-approve --parallelism P`` starting N agents on a served
  sandbox with L ms per engine call (as ``bench/apply_scale.py``), beside its limit
  ceil(N / P) x L; start-up is ``reconciler --version``.

Usage: python bench/growth.py [--plan-sizes 100,500,1000,2000,5000] [--apply-sizes 100,250,500]
       [--parallelism 10,50] [--latency-ms 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import apply_scale
import benchlib as b
import plan_scale


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan-sizes", default="100,500,1000,2000,5000")
    parser.add_argument("--apply-sizes", default="100,250,500")
    parser.add_argument("--parallelism", default="10,50")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="growth-") as tmp_name:
        tmp = Path(tmp_name)
        print("plan --no-refresh (10% changed)")
        print("      N   wall (s)   ms per agent   runs")
        for n in [int(s) for s in args.plan_sizes.split(",")]:
            directory = tmp / f"plan-{n}"
            plan_scale.make(directory, n)
            plan_scale.plan_once(directory)  # warm-up
            walls = [plan_scale.plan_once(directory).wall for _ in range(args.runs)]
            wall = b.median(walls)
            print(f"  {n:>5}   {wall:>8.2f}   {1000 * wall / n:>12.2f}   {b.runs_text(walls)}",
                  flush=True)  # fmt: skip
        latency = args.latency_ms / 1000.0
        start = b.startup_time(5)
        for p in [int(s) for s in args.parallelism.split(",")]:
            print(f"\napply, start N agents, P={p}, L={args.latency_ms:.0f} ms")
            print("      N   wall (s)   limit (s)   wall - start-up (s)   runs")
            for n in [int(s) for s in args.apply_sizes.split(",")]:
                runs = [apply_scale.apply_run(tmp, n, args.latency_ms, p) for _ in range(args.runs)]
                walls = [r["wall"] for r in runs]
                wall = b.median(walls)
                limit = b.ceil_div(n, p) * latency
                print(f"  {n:>5}   {wall:>8.2f}   {limit:>9.2f}   {wall - start:>19.2f}   "
                      f"{b.runs_text(walls)}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
