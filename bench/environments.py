"""``plan --env all`` of 3 environments against three single-environment plans run one after
another.

A served sandbox (fresh SQLite file) and a project of N generated agents (one manifest file
each) declaring three environments, ``staging``, ``prod`` and ``eu``, each on its own App ID of
that sandbox with its own state file. Each environment is applied (N agents running on each App
ID, no latency), then 10% of the manifests are edited (half in place, half restarts) and the
sandbox's latency is set to L ms per call, standing in for a remote engine.

Measured, as subprocesses (start-up included), runs alternating, medians:

- ``plan --env all`` (the three environments planned concurrently, rendered together);
- ``plan --env staging``, then ``--env prod``, then ``--env eu``: the sum of the three walls.

Both with the engine refresh (the default) and with ``--no-refresh`` (manifests and state only,
all CPU). Bound: with refresh, wall(all) <= 0.8 x the sequential sum (the environments' engine
calls overlap; the manifests are read once per environment either way).

Usage: python bench/environments.py [--n 1000] [--latency-ms 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import benchlib as b

BOUND = 0.8
ENVIRONMENTS = {
    "staging": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
    "prod": "9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b",
    "eu": "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0",
}


def settings(engine: str, cap: int) -> str:
    blocks = "".join(
        f'  {name}:\n    app_id: "{app}"\n    state: state/{name}.json\n'
        for name, app in ENVIRONMENTS.items()
    )
    return (
        f"engine: {engine}\nauth: basic\napp_certificate: ${{AGORA_APP_CERTIFICATE}}\n"
        f"max_concurrent_agents: {cap}\nparallelism: 50\nenvironments:\n{blocks}"
    )


def plan(directory: Path, env: str, refresh: bool) -> float:
    argv = [*b.RECONCILER, "--env", env, "plan", "--detailed-exitcode"]
    if not refresh:
        argv.append("--no-refresh")
    return b.run_child(argv, cwd=directory, env=b.bench_env(), ok_codes=(2,)).wall


def check(directory: Path, n: int) -> None:
    run = b.run_child([*b.RECONCILER, "plan", "--env", "all"], cwd=directory, env=b.bench_env())
    text = run.stdout.decode()
    changed = n // 10
    expected = f"{changed // 2} to update in place, {changed - changed // 2} to restart"
    for name in ENVIRONMENTS:
        if f"== Environment {name} ==" not in text:
            raise SystemExit(f"no section of {name} in plan --env all")
    if text.count(expected) != 2 * len(ENVIRONMENTS):
        raise SystemExit(f"unexpected plans: wanted {expected!r} in every environment")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    ok = True
    with tempfile.TemporaryDirectory(prefix="environments-") as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / f"engine-{time.monotonic_ns()}.db"
        cap = 10 * n
        with b.ServedSandbox(db, latency_ms=0, pcu_limit=10 * cap) as sandbox:
            directory = tmp / "project"
            b.write_project(directory, n, engine=sandbox.engine_url, cap=cap)
            (directory / "reconciler.yaml").write_text(
                settings(sandbox.engine_url, cap), encoding="utf-8"
            )
            for name in ENVIRONMENTS:
                b.run_child(
                    [*b.RECONCILER, "--env", name, "apply", "--auto-approve"],
                    cwd=directory, env=b.bench_env(),
                )  # fmt: skip
            for i in range(n):
                variant = b.differing(i)
                if variant:
                    path = directory / "agents.d" / f"{b.agent_name(i)}.yaml"
                    path.write_text(b.manifest_text(i, variant=variant), encoding="utf-8")
            sandbox.control("POST", "faults", {"latency_ms": args.latency_ms})
            check(directory, n)  # also warms the page cache and the .pyc files
            for refresh in (True, False):
                together, apart = [], []
                for _ in range(args.runs):
                    together.append(plan(directory, "all", refresh))
                    apart.append(sum(plan(directory, name, refresh) for name in ENVIRONMENTS))
                wall, sequential = b.median(together), b.median(apart)
                what = "refresh" if refresh else "--no-refresh"
                print(
                    f"{len(ENVIRONMENTS)} environments x {n:,} agents, {what} (L = "
                    f"{args.latency_ms:g} ms): plan --env all {wall:.2f} s "
                    f"{b.runs_text(together)}; three plans one after another {sequential:.2f} s "
                    f"{b.runs_text(apart)}; ratio {wall / sequential:.2f}",
                    flush=True,
                )
                if refresh:
                    ok &= b.verdict(
                        "plan --env all / three sequential plans (refresh)", wall / sequential,
                        BOUND, f"{wall:.2f} s / {sequential:.2f} s",
                    )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
