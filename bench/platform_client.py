"""The Platform client at scale against a served sandbox with L ms latency per call.

Workload (one run): create S secret sets (one key each) and A saved agents, each agent
referencing a key of set ``i % S``; list the agents (every page); merge-patch every agent with
the ETag its create answered (``If-Match``); delete every agent, then every set (``If-Match``).
Requests go out P at a time.

Floor, in the same run: the same requests (same bodies, same concurrency, a pooled
``httpx.AsyncClient``) sent bare, with no client layers, against a fresh sandbox of the same
latency.

- Figure: the client's wall / the floor's wall, per run (median over runs).
- Bound: <= 1.15.
- Also printed: the calls the sandbox logged per operation (the client must make exactly the
  workload's calls: no retries, no extra reads), and the CPU time of this process (the client
  side only; the sandbox runs in its own process) per call, which the machine's load disturbs
  less than the wall.

Usage: python bench/platform_client.py [--sets 50] [--agents 500] [--latency-ms 20]
       [--parallelism 10] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import benchlib as b
import httpx

sys.path.insert(0, str(b.ROOT))

from reconciler.engine import BasicAuth, PlatformClient

BOUND = 1.15
PREFIX = f"/conversational-ai/v1/projects/{b.APP_ID}"


def agent_body(i: int, sets: int) -> dict[str, Any]:
    return {
        "agent_name": f"agent-{i}",
        "instructions": f"You are agent {i}.",
        "llm": {
            "vendor": "openai",
            "params": {"temperature": 0.2},
            "credential": {"mode": "byok", "fields": {"api_key": f"$secrets.set_{i % sets}.key"}},
        },
    }


async def gather(parallelism: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    slots = asyncio.Semaphore(parallelism)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with slots:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


async def with_client(url: str, sets: int, agents: int, parallelism: int) -> float:
    client = PlatformClient(
        b.APP_ID, [f"{url}/conversational-ai"], BasicAuth(*b.CUSTOMER), max_connections=parallelism
    )
    async with client:
        started = time.perf_counter()
        made_sets = await gather(
            parallelism,
            [
                lambda i=i: client.create_secret_set(f"set_{i}", {"key": f"value-{i}-0123456789"})
                for i in range(sets)
            ],
        )
        made = await gather(
            parallelism,
            [lambda i=i: client.create_agent(agent_body(i, sets)) for i in range(agents)],
        )
        listed = await client.list_agents()
        assert len(listed) == agents
        await gather(
            parallelism,
            [
                lambda a=a: client.update_agent(
                    a.body["agent_id"], {"instructions": "New."}, a.etag
                )
                for a in made
            ],
        )
        await gather(
            parallelism, [lambda a=a: client.delete_agent(a.body["agent_id"]) for a in made]
        )
        await gather(
            parallelism,
            [lambda s=s: client.delete_secret_set(s.body["name"], s.etag) for s in made_sets],
        )
        return time.perf_counter() - started


async def bare(url: str, sets: int, agents: int, parallelism: int) -> float:
    limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
    headers = {"Authorization": b.BASIC}
    async with httpx.AsyncClient(base_url=url + PREFIX, headers=headers, limits=limits) as http:
        started = time.perf_counter()
        set_tags = await gather(
            parallelism,
            [
                lambda i=i: http.post(
                    "/secrets",
                    json={"name": f"set_{i}", "secrets": {"key": f"value-{i}-0123456789"}},
                )
                for i in range(sets)
            ],
        )
        made = await gather(
            parallelism,
            [lambda i=i: http.post("/agents", json=agent_body(i, sets)) for i in range(agents)],
        )
        cursor, count = None, 0
        while True:
            params = {
                "limit": "200",
                "order": "create_ts.asc",
                **({"cursor": cursor} if cursor else {}),
            }
            page = (await http.get("/agents", params=params)).json()
            count += page["data"]["count"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        assert count == agents
        await gather(
            parallelism,
            [
                lambda r=r: http.patch(
                    f"/agents/{r.json()['agent_id']}",
                    json={"instructions": "New."},
                    headers={"If-Match": r.headers["etag"]},
                )
                for r in made
            ],
        )
        await gather(
            parallelism, [lambda r=r: http.delete(f"/agents/{r.json()['agent_id']}") for r in made]
        )
        await gather(
            parallelism,
            [
                lambda r=r: http.delete(
                    f"/secrets/{r.json()['name']}", headers={"If-Match": r.headers["etag"]}
                )
                for r in set_tags
            ],
        )
        return time.perf_counter() - started


def calls(sandbox: b.ServedSandbox) -> dict[str, int]:
    counted = collections.Counter(e["route"] for e in sandbox.requests() if "-" in e["route"])
    return dict(sorted(counted.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=50)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    ratios, walls, floors = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for label in ("client", "floor"):
                db = Path(tmp) / f"{label}-{run}.db"
                with b.ServedSandbox(db, latency_ms=args.latency_ms, pcu_limit=10) as sandbox:
                    job = with_client if label == "client" else bare
                    cpu = time.process_time()
                    wall = asyncio.run(job(sandbox.url, args.sets, args.agents, args.parallelism))
                    cpu = time.process_time() - cpu
                    logged = calls(sandbox)
                (walls if label == "client" else floors).append(wall)
                per_call = cpu / sum(logged.values()) * 1000
                print(
                    f"run {run + 1} {label}: {wall:.2f} s, CPU here {cpu:.2f} s "
                    f"({per_call:.2f} ms a call), calls {logged}",
                    flush=True,
                )
            ratios.append(walls[-1] / floors[-1])
    expected = 2 * args.sets + 3 * args.agents + -(-args.agents // 200)
    print(
        f"workload: {args.sets} sets, {args.agents} agents, {expected} calls, "
        f"L = {args.latency_ms:g} ms, P = {args.parallelism}"
    )
    print(f"client {b.runs_text(walls)}, floor {b.runs_text(floors)}")
    ok = b.verdict("client / floor", b.median(ratios), BOUND, f"{b.median(ratios):.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
