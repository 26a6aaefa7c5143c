"""Growth: how plan and apply time grow with the number of agents N (a small table).

- plan: ``reconciler plan --no-refresh`` on generated projects with 10% of agents changed
  (as ``bench/plan_scale.py``), median of a few runs;
- apply: ``reconciler apply --auto-approve --parallelism P`` starting N agents on a served
  sandbox with L ms per engine call (as ``bench/apply_scale.py``), minus the start-up
  (``reconciler --version``), beside the floor (a bare httpx client sending the same joins to
  a fresh sandbox) and the bound 1.5 x ceil(N / P) x L plus the floor's own overhead over
  ceil(N / P) x L; then the growth of the time per agent from the smallest N to the largest
  (bound: 1.2, i.e. linear within 20%). Beside the wall times, the CPU time per agent of apply
  and of the sandbox serving it (and serving the floor): on a shared machine the wall time
  stretches with other work, the CPU time much less, so its growth is the sturdier figure.

Usage: python bench/growth.py [--plan-sizes 100,500,1000,2000,5000] [--apply-sizes 1000,20000]
       [--parallelism 50] [--latency-ms 100] [--runs 3]
(``--plan-sizes ''``: the apply table only.)
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
    parser.add_argument("--apply-sizes", default="1000,20000")
    parser.add_argument("--parallelism", default="50")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="growth-") as tmp_name:
        tmp = Path(tmp_name)
        plan_sizes = [int(s) for s in args.plan_sizes.split(",") if s.strip()]
        if plan_sizes:
            print("plan --no-refresh (10% changed)")
            print("      N   wall (s)   ms per agent   runs")
        for n in plan_sizes:
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
            print(f"\napply, start N agents, P={p}, L={args.latency_ms:.0f} ms; floor: a bare "
                  "httpx client sending the same joins; CPU in ms per agent")  # fmt: skip
            print("      N   apply - start-up (s)   floor (s)   limit (s)   bound (s)"
                  "   apply CPU   its sandbox's CPU   floor's sandbox's CPU")  # fmt: skip
            per_agent: dict[int, tuple[float, float, float]] = {}
            for n in [int(s) for s in args.apply_sizes.split(",")]:
                floors = [apply_scale.client_run_cpu(tmp, n, args.latency_ms, p)
                          for _ in range(args.runs)]  # fmt: skip
                runs = [apply_scale.apply_run(tmp, n, args.latency_ms, p) for _ in range(args.runs)]
                wall = b.median([r["wall"] for r in runs]) - start
                floor = b.median([f[0] for f in floors])
                limit = b.ceil_div(n, p) * latency
                bound = 1.5 * limit + max(0.0, floor - limit)
                cpu = 1000 * b.median([r["cpu"] for r in runs]) / n
                sandbox_cpu = 1000 * b.median([r["sandbox_cpu"] for r in runs]) / n
                floor_sandbox_cpu = 1000 * b.median([f[2] for f in floors]) / n
                per_agent[n] = (1000 * wall / n, cpu, sandbox_cpu)
                print(f"  {n:>5}   {wall:>18.2f}   {floor:>9.2f}   {limit:>9.2f}   {bound:>9.2f}"
                      f"   {cpu:>9.2f}   {sandbox_cpu:>17.2f}   {floor_sandbox_cpu:>21.2f}",
                      flush=True)  # fmt: skip
                b.verdict(f"apply N={n} P={p}", wall / bound, 1.0,
                          f"(wall - start-up) / (1.5 x ceil(N/P) x L + the floor's overhead) = "
                          f"{wall / bound:.2f}")  # fmt: skip
            sizes = sorted(per_agent)
            if len(sizes) > 1:
                first, last = per_agent[sizes[0]], per_agent[sizes[-1]]
                for index, what in enumerate(("wall", "apply CPU", "sandbox CPU")):
                    growth = last[index] / first[index]
                    b.verdict(f"apply growth P={p} {sizes[0]} -> {sizes[-1]}, {what} per agent",
                              growth, 1.2, f"grew {growth:.2f} x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
