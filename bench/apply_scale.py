"""Apply at scale: start N agents on a served sandbox with L ms latency per engine call.

Each run starts a fresh sandbox (``reconciler sandbox serve --latency-ms L --pcu-limit ...``,
its own SQLite file) and a fresh project of N generated agents (``token: auto``, an ``extends``
partial, interpolated secrets) whose ``reconciler.yaml`` points at it, with ``parallelism: P``
and ``max_concurrent_agents`` raised; then times ``reconciler apply --auto-approve`` as a
subprocess (refresh on, as by default with credentials). The run is checked: N agents running on
the sandbox, N records in state, an empty journal.

- Limit: ceil(N / P) x L x (engine calls per agent); a start is one call (join), so 1.
- CLI start-up: the median wall of ``reconciler plan --no-refresh`` on the same project (loading
  settings, manifests and state and planning: everything apply does before its first call).
- Bound: wall <= 1.25 x limit + CLI start-up.
- Also printed: the engine calls apply made that are not per agent (the refresh ``list`` and the
  capacity check ``list``), from the sandbox's request log.

Floor: the same joins (same bodies, P in flight) sent by a bare httpx client in pools of 10
connections, as ours, with no plan, state or journal: what the sandbox and this machine allow
at all. The distance between the floor and the limit is not ours to close.

Baseline: what a user writes instead, a script that starts the same agents one by one with the
official SDK's client (``agora_agent.client.Agora(...).agents.start``), bodies prepared before
the clock starts (the same properties and freshly minted tokens); our speed-up over it.

State: ``--state local,postgres`` runs every apply once per backend (each PostgreSQL run in a
throwaway database on ``--pg-url``) and prints the figures side by side, against the same bound.

Usage: python bench/apply_scale.py [--n 500] [--latency-ms 100] [--parallelism 10,50]
       [--runs 3] [--baseline-runs 1] [--state local|postgres|local,postgres] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as b

BOUND = 1.25

BASELINE_SCRIPT = r"""
import json, sys, time
from agora_agent.client import Agora
url, app_id, auth, bodies = sys.argv[1], sys.argv[2], sys.argv[3], json.load(open(sys.argv[4]))
client = Agora(base_url=url, authorization=auth, username="", password="", timeout=60)
started = time.perf_counter()
for body in bodies:
    client.agents.start(app_id, name=body["name"], properties=body["properties"])
print(time.perf_counter() - started)
"""

FLOOR_SCRIPT = r"""
import asyncio, json, sys, time
import httpx
url, app_id, auth, bodies, parallelism = (
    sys.argv[1], sys.argv[2], sys.argv[3], json.load(open(sys.argv[4])), int(sys.argv[5]))
async def main():
    pools = [httpx.AsyncClient(base_url=url, headers={"Authorization": auth},
                               limits=httpx.Limits(max_connections=10))
             for _ in range(-(-parallelism // 10))]
    slots = asyncio.Semaphore(parallelism)
    async def start(i, body):
        async with slots:
            response = await pools[i % len(pools)].post(f"/v2/projects/{app_id}/join", json=body)
            response.raise_for_status()
    started = time.perf_counter()
    await asyncio.gather(*(start(i, body) for i, body in enumerate(bodies)))
    print(time.perf_counter() - started)
    for pool in pools:
        await pool.aclose()
asyncio.run(main())
"""

BODIES_SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
from reconciler.engine import mint_agent_token
from reconciler.manifests import load_desired, load_settings
settings = load_settings(Path(sys.argv[1]), None, os.environ)
desired = load_desired(settings, os.environ)
cert = settings.app_certificate.get_secret_value()
bodies = []
for agent in desired.agents.values():
    properties = dict(agent.spec["properties"])
    if agent.token_mode == "auto":
        properties["token"], _ = mint_agent_token(
            settings.app_id, cert, agent.channel, agent.agent_rtc_uid, settings.token_ttl_s,
            time.time(), agent.enable_rtm)
    bodies.append({"name": agent.name + "-sdk", "properties": properties})
json.dump(bodies, open(sys.argv[2], "w"))
"""


def project(directory: Path, sandbox: b.ServedSandbox, n: int, parallelism: int) -> None:
    b.write_project(
        directory, n, engine=sandbox.engine_url, parallelism=parallelism, cap=max(1000, 4 * n)
    )


def startup(directory: Path, runs: int) -> float:
    walls = []
    for _ in range(runs):
        argv = [*b.RECONCILER, "plan", "--no-refresh"]
        walls.append(b.run_child(argv, cwd=directory, env=b.bench_env()).wall)
    return b.median(walls)


def recorded(directory: Path, state_url: str | None) -> dict[str, Any]:
    """The state the apply left, from the file or from the database."""
    if state_url is None:
        doc: dict[str, Any] = json.loads(
            (directory / "state" / "agents.json").read_text(encoding="utf-8")
        )
        return doc
    from reconciler.models.settings import Settings
    from reconciler.state import open_backend

    settings = Settings(project_dir=directory, state=state_url, app_id=b.APP_ID)
    return open_backend(settings, {}).store.load().model_dump(mode="json")


def check(directory: Path, sandbox: b.ServedSandbox, n: int, state_url: str | None) -> None:
    state = recorded(directory, state_url)
    running = sandbox.control("GET", f"agents?app_id={b.APP_ID}&status=RUNNING")["agents"]
    starting = sandbox.control("GET", f"agents?app_id={b.APP_ID}&status=STARTING")["agents"]
    if len(state["agents"]) != n or state["pending"] or len(running) + len(starting) != n:
        raise SystemExit(
            f"apply did not converge: {len(state['agents'])} recorded, "
            f"{len(state['pending'])} pending, {len(running) + len(starting)} running"
        )


def apply_run(
    tmp: Path, n: int, latency_ms: float, parallelism: int, state: str, pg_url: str
) -> dict[str, Any]:
    directory = tmp / f"apply-{parallelism}-{state}"
    with contextlib.ExitStack() as stack:
        state_url = None if state == "local" else stack.enter_context(b.throwaway_database(pg_url))
        return _apply_run(directory, tmp, n, latency_ms, parallelism, state_url)


def _apply_run(
    directory: Path, tmp: Path, n: int, latency_ms: float, parallelism: int, state_url: str | None
) -> dict[str, Any]:
    with b.ServedSandbox(tmp / f"engine-{parallelism}-{time.monotonic_ns()}.db",
                         latency_ms=latency_ms, pcu_limit=100 * n) as sandbox:  # fmt: skip
        project(directory, sandbox, n, parallelism)
        if state_url is not None:
            settings = directory / "reconciler.yaml"
            text = settings.read_text(encoding="utf-8")
            settings.write_text(
                text.replace("state: state/agents.json", f"state: {state_url}"), encoding="utf-8"
            )
        start = startup(directory, 3)
        sandbox.control("DELETE", "requests")
        run = b.run_child(
            [*b.RECONCILER, "apply", "--auto-approve"], cwd=directory, env=b.bench_env()
        )
        check(directory, sandbox, n, state_url)
        log = sandbox.requests()
    routes: dict[str, int] = {}
    for entry in log:
        route = str(entry.get("route") or entry.get("operation") or entry.get("path"))
        routes[route] = routes.get(route, 0) + 1
    return {"wall": run.wall, "startup": start, "routes": routes, "calls": len(log)}


def client_run(tmp: Path, n: int, latency_ms: float, parallelism: int | None = None) -> float:
    """Seconds the SDK loop (``parallelism`` None) or the bare httpx floor takes for the joins."""
    kind = "sdk" if parallelism is None else f"floor-{parallelism}"
    directory = tmp / kind
    with b.ServedSandbox(tmp / f"engine-{kind}-{time.monotonic_ns()}.db",
                         latency_ms=latency_ms, pcu_limit=100 * n) as sandbox:  # fmt: skip
        project(directory, sandbox, n, 1)
        bodies = directory / "bodies.json"
        b.run_child([sys.executable, "-c", BODIES_SCRIPT, str(directory), str(bodies)],
                    cwd=directory, env=b.bench_env())  # fmt: skip
        argv = [sys.executable, "-c", BASELINE_SCRIPT if parallelism is None else FLOOR_SCRIPT,
                sandbox.engine_url, b.APP_ID, b.BASIC, str(bodies)]  # fmt: skip
        if parallelism is not None:
            argv.append(str(parallelism))
        run = b.run_child(argv, cwd=directory, env=b.bench_env())
        return float(run.stdout.split()[-1])


def report_apply(
    tmp: Path, args: argparse.Namespace, n: int, parallelism: int, state: str
) -> tuple[bool, float, float, int]:
    """Time the applies of one backend and print their figures.

    Returns ``(within the bound, median wall, median start-up, fixed engine calls)``.
    """
    latency = args.latency_ms / 1000.0
    calls_per_agent = 1
    runs = [
        apply_run(tmp, n, args.latency_ms, parallelism, state, args.pg_url)
        for _ in range(args.runs)
    ]
    walls = [r["wall"] for r in runs]
    starts = [r["startup"] for r in runs]
    wall, start = b.median(walls), b.median(starts)
    limit = b.ceil_div(n, parallelism) * latency * calls_per_agent
    bound = BOUND * limit + start
    extra = runs[0]["calls"] - n * calls_per_agent
    print(f"apply N={n} P={parallelism} L={args.latency_ms:.0f} ms state={state}: engine calls "
          f"{runs[0]['calls']} ({n * calls_per_agent} per-agent + {extra} fixed: "
          f"{runs[0]['routes']})", flush=True)  # fmt: skip
    ratio = (wall - start) / limit
    ok = b.verdict(
        f"apply N={n} P={parallelism} L={args.latency_ms:.0f} ms state={state}",
        ratio,
        BOUND,
        f"wall {wall:.2f} s {b.runs_text(walls)} <= {BOUND} x limit {limit:.2f} s + "
        f"start-up {start:.2f} s {b.runs_text(starts)} = {bound:.2f} s; "
        f"ratio (wall - start-up) / limit {ratio:.2f}",
    )
    fixed = (wall - start - extra * latency) / limit
    print(f"  (same run, with its {extra} fixed calls counted as start-up too: "
          f"ratio {fixed:.2f})", flush=True)  # fmt: skip
    return ok, wall, start, extra


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--parallelism", default="10,50")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-runs", type=int, default=1)
    parser.add_argument("--state", default="local", help="local, postgres or local,postgres")
    parser.add_argument("--pg-url", default=b.PG_SERVER_URL, help="server for --state postgres")
    args = parser.parse_args()
    states = [s.strip() for s in args.state.split(",")]
    if not states or any(s not in ("local", "postgres") for s in states):
        parser.error("--state takes local, postgres or local,postgres")
    n, latency = args.n, args.latency_ms / 1000.0
    calls_per_agent = 1  # a start is one join; tokens are minted locally
    ok = True
    with tempfile.TemporaryDirectory(prefix="apply-scale-") as tmp_name:
        tmp = Path(tmp_name)
        baseline = [client_run(tmp, n, args.latency_ms) for _ in range(args.baseline_runs)]
        sdk = b.median(baseline) if baseline else float("nan")
        if baseline:
            print(f"baseline, official SDK one by one, {n} starts: {sdk:.2f} s "
                  f"{b.runs_text(baseline)}", flush=True)  # fmt: skip
        for parallelism in [int(p) for p in args.parallelism.split(",")]:
            for state in states:
                within, wall, start, extra = report_apply(tmp, args, n, parallelism, state)
                ok &= within
            limit = b.ceil_div(n, parallelism) * latency * calls_per_agent
            floors = [client_run(tmp, n, args.latency_ms, parallelism) for _ in range(args.runs)]
            floor = b.median(floors)
            print(f"  floor, bare httpx client, the same {n} joins with {parallelism} in flight: "
                  f"{floor:.2f} s {b.runs_text(floors)}, ratio {floor / limit:.2f}; ours over "
                  f"the floor: {wall - start - extra * latency - floor:+.2f} s "
                  f"(plan, journal, state, tokens)", flush=True)  # fmt: skip
            if baseline:
                print(f"apply N={n} P={parallelism}: speed-up over the SDK loop "
                      f"{sdk / wall:.1f}x ({sdk:.2f} s / {wall:.2f} s)", flush=True)  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
