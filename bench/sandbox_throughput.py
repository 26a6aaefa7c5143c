"""Join+get throughput of the sandbox engine served by uvicorn on this machine.

Starts `reconciler sandbox serve` on a free loopback port with a fresh SQLite file, then
several concurrent httpx clients each repeat join (a new agent) + get (that agent) for a fixed
number of requests. Prints the median of a few runs beside the bound, e.g.
`sandbox join+get: 812 req/s (bound >= 400) OK`.

Usage: python bench/sandbox_throughput.py [--clients 8] [--requests 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

BOUND = 400.0
APP_ID = "0123456789abcdef0123456789abcdef"
AUTH = "Basic " + base64.b64encode(b"bench:bench").decode()
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.served import ServedSandbox  # noqa: E402


def _start(db: str) -> ServedSandbox:
    env = {**os.environ, "AGORA_CUSTOMER_ID": "bench", "AGORA_CUSTOMER_SECRET": "bench"}
    env.pop("AGORA_APP_CERTIFICATE", None)
    # Served outside the repository: in it, `serve` reads the example reconciler.yaml, whose
    # App Certificate makes the sandbox require a token in every join.
    where = Path(db).parent
    return ServedSandbox(db=db, args=["--pcu-limit", "1000000000"], env=env, cwd=where)


async def _worker(url: str, worker: int, pairs: int, run: int) -> int:
    base = f"{url}/api/conversational-ai-agent/v2/projects/{APP_ID}"
    done = 0
    async with httpx.AsyncClient(headers={"Authorization": AUTH}, timeout=30) as client:
        for i in range(pairs):
            body = {
                "name": f"bench-{run}-{worker}-{i}",
                "properties": {
                    "channel": f"bench-{worker}",
                    "agent_rtc_uid": "1001",
                    "remote_rtc_uids": ["2001"],
                    "llm": {"url": "https://llm.example/v1", "params": {"model": "m"}},
                    "tts": {"vendor": "microsoft", "params": {"key": "k"}},
                },
            }
            joined = await client.post(f"{base}/join", json=body)
            joined.raise_for_status()
            got = await client.get(f"{base}/agents/{joined.json()['agent_id']}")
            got.raise_for_status()
            done += 2
    return done


async def _run(url: str, clients: int, requests: int, run: int) -> float:
    pairs = max(1, requests // (2 * clients))
    started = time.perf_counter()
    counts = await asyncio.gather(*(_worker(url, w, pairs, run) for w in range(clients)))
    return sum(counts) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = _start(str(Path(tmp) / "engine.db"))
        url = server.url
        try:
            asyncio.run(_run(url, args.clients, 100, -1))  # warm-up
            rates = [
                asyncio.run(_run(url, args.clients, args.requests, run)) for run in range(args.runs)
            ]
        finally:
            server.stop()
    rate = statistics.median(rates)
    verdict = "OK" if rate >= BOUND else "BELOW BOUND"
    print(f"sandbox join+get: {rate:.0f} req/s (bound >= {BOUND:.0f}) {verdict}")
    return 0 if rate >= BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
