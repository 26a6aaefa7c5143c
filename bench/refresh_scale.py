"""Refresh at scale: plan against the engine's live status with N recorded, running agents.

A served sandbox (fresh SQLite file) and a project of N generated agents; ``reconciler apply``
starts them all with no latency, then the sandbox's latency is set to L ms per call and
``reconciler plan --refresh`` is timed as a subprocess (several runs, median). The sandbox's
request log (``/_sandbox/requests``) counts the engine calls one refresh makes: it must be the
``list`` pages, not one call per agent.

- Pages needed: ceil(N / page size), the page size being the ``limit`` the client asks for.
- CLI start-up: the median wall of ``reconciler plan --no-refresh`` on the same project.
- Bound: wall <= 1.5 x (pages needed x L) + start-up.

Usage: python bench/refresh_scale.py [--n 2000] [--latency-ms 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import benchlib as b

BOUND = 1.5


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    n, latency = args.n, args.latency_ms / 1000.0
    from reconciler.engine.client import EngineClient

    page = EngineClient.list_agents.__kwdefaults__["limit"]
    with tempfile.TemporaryDirectory(prefix="refresh-scale-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / f"engine-{time.monotonic_ns()}.db"
        with b.ServedSandbox(db, latency_ms=0, pcu_limit=10 * n) as sandbox:
            directory = tmp / "project"
            b.write_project(directory, n, engine=sandbox.engine_url, parallelism=50, cap=10 * n)
            env = b.bench_env()
            b.run_child([*b.RECONCILER, "apply", "--auto-approve"], cwd=directory, env=env)
            sandbox.control("POST", "faults", {"latency_ms": args.latency_ms})
            no_refresh = [
                b.run_child([*b.RECONCILER, "plan", "--no-refresh"], cwd=directory, env=env).wall
                for _ in range(args.runs)
            ]
            walls, calls = [], []
            for _ in range(args.runs):
                sandbox.control("DELETE", "requests")
                argv = [*b.RECONCILER, "plan", "--refresh", "--detailed-exitcode"]
                run = b.run_child(argv, cwd=directory, env=env, ok_codes=(0,))
                walls.append(run.wall)
                log = sandbox.requests()
                routes: dict[str, int] = {}
                for entry in log:
                    routes[str(entry.get("route"))] = routes.get(str(entry.get("route")), 0) + 1
                calls.append(routes)
    pages = b.ceil_div(n, page)
    start = b.median(no_refresh)
    wall = b.median(walls)
    limit = pages * latency
    total_calls = sum(calls[0].values())
    print(f"refresh N={n} L={args.latency_ms:.0f} ms: engine calls per refresh {total_calls} "
          f"{calls[0]} for {n} agents; page size {page}, pages needed {pages}",
          flush=True)  # fmt: skip
    ok = b.verdict("refresh calls per agent", total_calls / n, 1 / 10, f"{total_calls / n:.3f}")
    ratio = (wall - start) / limit
    ok &= b.verdict(
        f"refresh N={n} L={args.latency_ms:.0f} ms",
        ratio,
        BOUND,
        f"wall {wall:.2f} s {b.runs_text(walls)} <= {BOUND} x {pages} pages x L "
        f"({limit:.2f} s) + start-up {start:.2f} s {b.runs_text(no_refresh)} = "
        f"{BOUND * limit + start:.2f} s; ratio (wall - start-up) / (pages x L) {ratio:.2f}",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
