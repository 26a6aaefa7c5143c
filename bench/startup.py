"""Start-up: how long the CLI takes before doing anything that scales.

- ``reconciler --version``: bound 0.25 s (nothing but the CLI group may load);
- ``reconciler validate`` on the example project (``agents.d/`` of this repository, 3 agents):
  bound 0.6 s (settings, manifests and the manifest models; no engine client, no sandbox).

Each command runs as a subprocess of this interpreter (``python -m reconciler ...``, the same
entry point as the console script), after one warm-up run; the figure is the median wall time.

Usage: python bench/startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import sys

import benchlib as b

BOUNDS = {"--version": 0.25, "validate": 0.6}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    ok = True
    env = b.bench_env()
    for command, bound in BOUNDS.items():
        argv = [*b.RECONCILER, command]
        b.run_child(argv, cwd=b.ROOT, env=env)  # warm-up (.pyc files, page cache)
        walls = [b.run_child(argv, cwd=b.ROOT, env=env).wall for _ in range(args.runs)]
        wall = b.median(walls)
        ok &= b.verdict(
            f"reconciler {command}", wall, bound, f"{wall:.3f} s {b.runs_text(walls, digits=3)}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
