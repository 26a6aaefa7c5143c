"""``plan --env all`` of 3 environments against the slowest single-environment plan.

A served sandbox (fresh SQLite file) and a project of N generated agents (one manifest file
each) declaring three environments, ``staging``, ``prod`` and ``eu``, each on its own App ID of
that sandbox with its own state file. Each environment is applied (N agents running on each App
ID, no latency), then 10% of the manifests are edited (half in place, half restarts) and the
sandbox's latency is set to L ms per call, standing in for a remote engine.

Measured, as subprocesses (start-up included), runs alternating, medians:

- ``plan --env all`` (the three environments planned concurrently, rendered together);
- ``plan --env staging``, then ``--env prod``, then ``--env eu``: the slowest of the three
  walls (and, for reference, their sum).

Both with the engine refresh (the default) and with ``--no-refresh`` (manifests and state only,
all CPU). Bound: with refresh, wall(all) <= 1.2 x the slowest single-environment plan (the
environments are independent and planned concurrently, their engine calls overlapping, and
``agents.d/`` is read once for all three: see ``reconciler/manifests/shared.py``). Also printed:
the ratio of each run's pair (``all`` and the three singles that follow it, so a busy minute of
a shared machine weighs on both sides), and the CPU seconds of ``all`` beside those of the
costliest single plan (which a loaded machine does not stretch).

Usage: python bench/environments.py [--n 1000] [--latency-ms 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import benchlib as b

BOUND = 1.2
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


def plan(directory: Path, env: str, refresh: bool) -> b.ChildRun:
    argv = [*b.RECONCILER, "--env", env, "plan", "--detailed-exitcode"]
    if not refresh:
        argv.append("--no-refresh")
    return b.run_child(argv, cwd=directory, env=b.bench_env(), ok_codes=(2,))


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
                together, apart, slowest_runs, ratios = [], [], [], []
                cpu_together, cpu_single = [], []
                for _ in range(args.runs):
                    run_all = plan(directory, "all", refresh)
                    singles = [plan(directory, name, refresh) for name in ENVIRONMENTS]
                    walls = [single.wall for single in singles]
                    together.append(run_all.wall)
                    apart.append(sum(walls))
                    slowest_runs.append(max(walls))
                    ratios.append(run_all.wall / max(walls))  # paired: the same minute
                    cpu_together.append(run_all.cpu)
                    cpu_single.append(max(single.cpu for single in singles))
                wall, sequential = b.median(together), b.median(apart)
                slowest = b.median(slowest_runs)
                what = "refresh" if refresh else "--no-refresh"
                print(
                    f"{len(ENVIRONMENTS)} environments x {n:,} agents, {what} (L = "
                    f"{args.latency_ms:g} ms): plan --env all {wall:.2f} s "
                    f"{b.runs_text(together)}; slowest single plan {slowest:.2f} s "
                    f"{b.runs_text(slowest_runs)}; ratio {wall / slowest:.2f} (paired per run: "
                    f"{', '.join(f'{r:.2f}' for r in ratios)}; three one after another "
                    f"{sequential:.2f} s, ratio {wall / sequential:.2f}); CPU "
                    f"{b.median(cpu_together):.2f} s against {b.median(cpu_single):.2f} s for "
                    "the costliest single plan",
                    flush=True,
                )
                if refresh:
                    ok &= b.verdict(
                        "plan --env all / slowest single-environment plan (refresh)",
                        wall / slowest, BOUND, f"{wall:.2f} s / {slowest:.2f} s",
                    )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
