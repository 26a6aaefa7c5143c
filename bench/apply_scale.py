"""Apply at scale: start N agents on a served sandbox with L ms latency per engine call.

Each apply run starts a fresh sandbox (``reconciler sandbox serve --latency-ms L --pcu-limit
...``, its own SQLite file) and a fresh project of N generated agents (``token: auto``, an
``extends`` partial, interpolated secrets) whose ``reconciler.yaml`` points at it, with
``max_concurrent_agents`` raised and ``parallelism`` left at its default; then times
``reconciler apply --auto-approve --parallelism P`` as a subprocess (refresh on, as by default
with credentials). The run is checked: N agents running on the sandbox, N records in state,
an empty journal.

Floor, in the same run (interleaved with the applies): the same joins (same bodies, freshly
minted tokens, P in flight, spread over httpx clients of 10 connections each) sent by a bare
httpx script with no plan, state or journal, against a fresh sandbox of the same latency: what
the sandbox and this machine allow at all. (The engine client's own pools hold one connection
each, which costs less CPU per request than pools of 10; the floor is left as a plain script
would be written.)

- Start-up: the median wall of ``reconciler --version`` (the interpreter and the CLI).
- Figure: (median apply wall - start-up) / median floor wall.
- Bound: <= 1.15 with the local state file, <= 1.25 with ``--state postgres`` (each PostgreSQL
  run in a throwaway database on ``--pg-url``).
- Also printed: the engine calls apply made that are not per agent (the refresh ``list``, and
  the capacity check's when it lists again), from the sandbox's request log; and the
  single-process path (``RECONCILER_WORKERS=1``: manifests read in one process).

Baseline (``--baseline-runs``, off by default): what a user writes instead, a script that starts
the same agents one by one with the official SDK's client (``agora_agent.client.Agora``).

Usage: python bench/apply_scale.py [--n 200,1000] [--latency-ms 100] [--parallelism 20,50]
       [--runs 3] [--workers auto,1] [--state local|postgres|local,postgres] [--pg-url URL]
       [--baseline-runs 0]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib as b

BOUNDS = {"local": 1.15, "postgres": 1.25}

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


def project(directory: Path, sandbox: b.ServedSandbox, n: int) -> None:
    b.write_project(directory, n, engine=sandbox.engine_url, parallelism=None, cap=max(1000, 4 * n))


def recorded(directory: Path, state_url: str | None, engine: str) -> dict[str, Any]:
    """The state the apply left, through the product's own store (file or database), opened
    with the project's App ID and engine (a store refuses a state of another)."""
    from reconciler.models.settings import Settings
    from reconciler.state import open_backend

    state = state_url or "state/agents.json"
    settings = Settings(project_dir=directory, state=state, app_id=b.APP_ID, engine=engine)
    return open_backend(settings, {}).store.load().model_dump(mode="json", by_alias=True)


def check(directory: Path, sandbox: b.ServedSandbox, n: int, state_url: str | None) -> None:
    state = recorded(directory, state_url, sandbox.engine_url)
    running = sandbox.control("GET", f"agents?app_id={b.APP_ID}&status=RUNNING")["agents"]
    starting = sandbox.control("GET", f"agents?app_id={b.APP_ID}&status=STARTING")["agents"]
    if len(state["agents"]) != n or state["pending"] or len(running) + len(starting) != n:
        raise SystemExit(
            f"apply did not converge: {len(state['agents'])} recorded, "
            f"{len(state['pending'])} journal entries, {len(running) + len(starting)} running"
        )


def apply_run(
    tmp: Path,
    n: int,
    latency_ms: float,
    parallelism: int,
    state: str = "local",
    pg_url: str = b.PG_SERVER_URL,
    workers: str = "auto",
) -> dict[str, Any]:
    """One timed ``apply --auto-approve --parallelism P`` of N new agents (fresh sandbox)."""
    directory = tmp / f"apply-{n}-{parallelism}-{state}-{workers}"
    with contextlib.ExitStack() as stack:
        state_url = None if state == "local" else stack.enter_context(b.throwaway_database(pg_url))
        return _apply_run(directory, tmp, n, latency_ms, parallelism, state_url, workers)


def _apply_run(
    directory: Path,
    tmp: Path,
    n: int,
    latency_ms: float,
    parallelism: int,
    state_url: str | None,
    workers: str,
) -> dict[str, Any]:
    with b.ServedSandbox(tmp / f"engine-{parallelism}-{time.monotonic_ns()}.db",
                         latency_ms=latency_ms, pcu_limit=100 * n) as sandbox:  # fmt: skip
        project(directory, sandbox, n)
        if state_url is not None:
            settings = directory / "reconciler.yaml"
            text = settings.read_text(encoding="utf-8")
            settings.write_text(
                text.replace("state: state/agents.json", f"state: {state_url}"), encoding="utf-8"
            )
        env = b.bench_env() if workers == "auto" else b.bench_env(RECONCILER_WORKERS=workers)
        sandbox.control("DELETE", "requests")
        # --no-wait: the bare client floor sends the joins and stops; apply's wait until every
        # agent is RUNNING (list polls) is a different job, not part of this comparison.
        argv = [
            *b.RECONCILER,
            "apply",
            "--auto-approve",
            "--no-wait",
            "--parallelism",
            str(parallelism),
        ]
        sandbox_cpu = sandbox.cpu()
        run = b.run_child(argv, cwd=directory, env=env)
        sandbox_cpu = sandbox.cpu() - sandbox_cpu
        check(directory, sandbox, n, state_url)
        log = sandbox.requests()
    routes: dict[str, int] = {}
    for entry in log:
        route = str(entry.get("route") or entry.get("operation") or entry.get("path"))
        routes[route] = routes.get(route, 0) + 1
    return {
        "wall": run.wall,
        "routes": routes,
        "calls": len(log),
        "cpu": run.cpu,
        "sandbox_cpu": sandbox_cpu,
    }


def client_run(tmp: Path, n: int, latency_ms: float, parallelism: int | None = None) -> float:
    """Seconds the SDK loop (``parallelism`` None) or the bare httpx floor takes for the joins."""
    return client_run_cpu(tmp, n, latency_ms, parallelism)[0]


def client_run_cpu(
    tmp: Path, n: int, latency_ms: float, parallelism: int | None = None
) -> tuple[float, float, float]:
    """:func:`client_run`'s seconds, the client's CPU seconds and the sandbox's CPU seconds."""
    kind = "sdk" if parallelism is None else f"floor-{parallelism}"
    directory = tmp / f"{kind}-{n}"
    with b.ServedSandbox(tmp / f"engine-{kind}-{time.monotonic_ns()}.db",
                         latency_ms=latency_ms, pcu_limit=100 * n) as sandbox:  # fmt: skip
        project(directory, sandbox, n)
        bodies = directory / "bodies.json"
        b.run_child([sys.executable, "-c", BODIES_SCRIPT, str(directory), str(bodies)],
                    cwd=directory, env=b.bench_env())  # fmt: skip
        argv = [sys.executable, "-c", BASELINE_SCRIPT if parallelism is None else FLOOR_SCRIPT,
                sandbox.engine_url, b.APP_ID, b.BASIC, str(bodies)]  # fmt: skip
        if parallelism is not None:
            argv.append(str(parallelism))
        sandbox_cpu = sandbox.cpu()
        run = b.run_child(argv, cwd=directory, env=b.bench_env())
        sandbox_cpu = sandbox.cpu() - sandbox_cpu
        return float(run.stdout.split()[-1]), run.cpu, sandbox_cpu


def measure(tmp: Path, args: argparse.Namespace, n: int, parallelism: int, start: float) -> bool:
    """Floor and applies of one (N, P), interleaved run by run; print every figure."""
    variants = [(state, workers) for state in args.states for workers in args.workers]
    floors: list[float] = []
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(args.runs):
        floors.append(client_run(tmp, n, args.latency_ms, parallelism))
        for state, workers in variants:
            runs[(state, workers)].append(
                apply_run(tmp, n, args.latency_ms, parallelism, state, args.pg_url, workers)
            )
    floor = b.median(floors)
    limit = b.ceil_div(n, parallelism) * args.latency_ms / 1000.0
    label = f"N={n} P={parallelism} L={args.latency_ms:.0f} ms"
    print(f"floor {label}: bare httpx client, the same {n} joins with {parallelism} in flight: "
          f"{floor:.2f} s {b.runs_text(floors)} (ceil(N/P) x L = {limit:.2f} s)",
          flush=True)  # fmt: skip
    ok = True
    for state, workers in variants:
        walls = [r["wall"] for r in runs[(state, workers)]]
        wall = b.median(walls)
        first = runs[(state, workers)][0]
        extra = first["calls"] - n
        ratio = (wall - start) / floor
        name = f"apply {label} state={state} workers={workers}"
        print(f"{name}: engine calls {first['calls']} ({n} joins + {extra} more: "
              f"{first['routes']})", flush=True)  # fmt: skip
        within = b.verdict(
            name,
            ratio,
            BOUNDS[state],
            f"wall {wall:.2f} s {b.runs_text(walls)} - start-up {start:.2f} s = "
            f"{wall - start:.2f} s vs floor {floor:.2f} s: ratio {ratio:.2f}; "
            f"ours over the floor {wall - start - floor:+.2f} s",
        )
        ok &= within or workers != "auto"  # the single-process path is shown, not bounded
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="200,1000")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--parallelism", default="20,50")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="auto,1", help="auto, 1 or auto,1")
    parser.add_argument("--baseline-runs", type=int, default=0)
    parser.add_argument("--state", default="local", help="local, postgres or local,postgres")
    parser.add_argument("--pg-url", default=b.PG_SERVER_URL, help="server for --state postgres")
    args = parser.parse_args()
    args.states = [s.strip() for s in args.state.split(",")]
    args.workers = [w.strip() for w in args.workers.split(",")]
    if not args.states or any(s not in BOUNDS for s in args.states):
        parser.error("--state takes local, postgres or local,postgres")
    if any(w != "auto" and not w.isdigit() for w in args.workers):
        parser.error("--workers takes auto and whole numbers")
    start = b.startup_time(7)
    print(f"start-up, reconciler --version: {start:.3f} s (median of 7)", flush=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="apply-scale-") as tmp_name:
        tmp = Path(tmp_name)
        for n in [int(s) for s in args.n.split(",")]:
            for parallelism in [int(p) for p in args.parallelism.split(",")]:
                ok &= measure(tmp, args, n, parallelism, start)
            if args.baseline_runs:
                sdk = [client_run(tmp, n, args.latency_ms) for _ in range(args.baseline_runs)]
                print(f"baseline N={n}, official SDK one by one: {b.median(sdk):.2f} s "
                      f"{b.runs_text(sdk)}", flush=True)  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
