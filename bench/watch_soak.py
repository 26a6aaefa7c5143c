"""Soak of ``reconciler watch``: two replicas on PostgreSQL against a flaky engine, for minutes.

Serves the sandbox engine (5% of engine requests answer 503 by default), generates a project of
N agents whose state lives in a throwaway PostgreSQL database, and runs two ``watch`` replicas
on it. While they run, it crashes a random running agent every ``--crash-every`` seconds and
``kill -9``s the leader every ``--kill-every`` seconds (starting a fresh replica in its place),
and samples the engine twice a second. At the end (SIGTERM to every replica) it prints:

* ``agents-down-seconds``: the integral over time of the number of managed agents not running,
  counted from the first moment every agent ran;
* heal latency p50 / p99: from a crash to the moment the agent runs again under a new id;
* ``duplicates``: names with more than one active agent on the engine (must be 0);
* ``orphans``: active agents on the engine that the final state does not record (must be 0);
* leader changes and how long the project was without a leader.

Exit status 1 if duplicates or orphans are not 0, or an agent is not running at the end.

Usage: python bench/watch_soak.py [--minutes 10] [--agents 200] [--interval 5s]
                                  [--crash-every 3] [--kill-every 150] [--error-rate 0.05]
                                  [--seed 1] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from benchlib import (  # noqa: E402
    PG_SERVER_URL,
    RECONCILER,
    ServedSandbox,
    agent_name,
    bench_env,
    throwaway_database,
    write_project,
)

from tests.served import watch_port  # noqa: E402

ACTIVE = ("STARTING", "RUNNING", "RECOVERING", "IDLE")


class Replica:
    def __init__(self, project: Path, interval: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._offset = log.stat().st_size if log.exists() else 0  # the log is appended to
        self._port: int | None = None
        command = [*RECONCILER, "-C", str(project), "watch", "--interval", interval,
                   "--listen", "127.0.0.1:0", "--log-format", "json"]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def url(self) -> str | None:
        """The endpoint, once the replica has logged the port it serves on."""
        if self._port is None:
            self._port = watch_port(self.log, self._offset)
        return None if self._port is None else f"http://127.0.0.1:{self._port}"

    def leader(self) -> bool:
        if self.url is None:
            return False
        try:
            text = httpx.get(self.url + "/metrics", timeout=2).text
        except httpx.HTTPError:
            return False
        return "reconciler_watch_leader 1.0" in text

    def alive(self) -> bool:
        return self.process.poll() is None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def engine_agents(engine: ServedSandbox) -> list[dict[str, Any]]:
    agents: list[dict[str, Any]] = engine.control("GET", "agents")["agents"]
    return [a for a in agents if a["status"] in ACTIVE]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--interval", default="5s")
    parser.add_argument("--crash-every", type=float, default=3.0)
    parser.add_argument("--kill-every", type=float, default=150.0)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=PG_SERVER_URL)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    names = {agent_name(i) for i in range(args.agents)}

    with (
        tempfile.TemporaryDirectory(prefix="watch-soak-") as tmp,
        throwaway_database(args.pg_url) as state_url,
    ):
        work = Path(tmp)
        engine = ServedSandbox(work / "engine.db", latency_ms=5, pcu_limit=args.agents * 2)
        try:
            engine.control("POST", "faults", {"error_rate": args.error_rate, "error_status": 503})
            project = work / "project"
            write_project(project, args.agents, engine=engine.engine_url, cap=args.agents * 2)
            settings = project / "reconciler.yaml"
            text = settings.read_text().replace("state: state/agents.json", f"state: {state_url}")
            settings.write_text(text + "max_attempts: 10\n")
            partial = project / "agents.d" / "_base" / "openai.yaml"
            partial.write_text(partial.read_text().replace("idle_timeout: 120", "idle_timeout: 0"))
            env = bench_env()
            replicas = [Replica(project, args.interval, env, work / f"r{i}.log") for i in range(2)]
            spawned = 2
            began = time.monotonic()
            end = began + args.minutes * 60
            converged_at: float | None = None
            down_seconds = 0.0
            crashes: dict[str, tuple[float, str]] = {}
            heal: list[float] = []
            leaderless = 0.0
            leader_changes = 0
            last_leader: int | None = None
            next_crash = next_kill = 0.0
            last = time.monotonic()
            while time.monotonic() < end:
                time.sleep(0.5)
                now = time.monotonic()
                dt, last = now - last, now
                active = engine_agents(engine)
                running = {a["name"].rsplit("-", 1)[0]: a["agent_id"] for a in active
                           if a["status"] == "RUNNING"}  # fmt: skip
                if converged_at is None and names <= set(running):
                    converged_at = now
                    next_crash, next_kill = now + args.crash_every, now + args.kill_every
                    print(f"converged after {now - began:.1f}s", flush=True)
                if converged_at is None:
                    continue
                down_seconds += len(names - set(running)) * dt
                for name, (t0, old) in list(crashes.items()):
                    if running.get(name) not in (None, old):
                        heal.append(now - t0)
                        del crashes[name]
                leaders = [i for i, r in enumerate(replicas) if r.alive() and r.leader()]
                if not leaders:
                    leaderless += dt
                elif replicas[leaders[0]].process.pid != last_leader:
                    leader_changes += last_leader is not None
                    last_leader = replicas[leaders[0]].process.pid
                if now >= next_crash:
                    candidates = sorted(set(running) - set(crashes))
                    if candidates:
                        name = rng.choice(candidates)
                        try:
                            engine.control("POST", f"agents/{running[name]}/crash", {})
                            crashes[name] = (now, running[name])
                        except httpx.HTTPError:
                            pass
                    next_crash = now + args.crash_every
                if now >= next_kill and leaders:
                    victim = replicas[leaders[0]]
                    victim.process.send_signal(signal.SIGKILL)
                    victim.process.wait()
                    replicas[leaders[0]] = Replica(
                        project, args.interval, env, work / f"r{spawned}.log"
                    )
                    spawned += 1
                    print(f"{now - began:7.1f}s killed the leader (replica {spawned - 1} started)",
                          flush=True)  # fmt: skip
                    next_kill = now + args.kill_every
            settle = time.monotonic() + 60
            while time.monotonic() < settle:  # stop crashing; let the last crashes heal
                running_now = {a["name"].rsplit("-", 1)[0] for a in engine_agents(engine)
                               if a["status"] == "RUNNING"}  # fmt: skip
                if names <= running_now:
                    break
                time.sleep(0.5)
            for replica in replicas:
                if replica.alive():
                    replica.process.send_signal(signal.SIGTERM)
            codes = [r.process.wait(timeout=180) for r in replicas]
            pulled = subprocess.run(
                [*RECONCILER, "-C", str(project), "state", "pull"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            recorded = {r["agent_id"] for r in json.loads(pulled.stdout)["agents"].values()}
            active = engine_agents(engine)
            per_name: dict[str, int] = {}
            for agent in active:
                base = agent["name"].rsplit("-", 1)[0]
                per_name[base] = per_name.get(base, 0) + 1
            duplicates = sum(count - 1 for count in per_name.values() if count > 1)
            orphans = sum(1 for a in active if a["agent_id"] not in recorded)
            missing = len(names - set(per_name))
        finally:
            engine.close()
    print(f"replicas exit codes at SIGTERM: {codes}")
    print(
        f"agents-down-seconds: {down_seconds:.1f} over {args.minutes:g} min, {args.agents} agents"
    )
    p50, p99 = percentile(heal, 50), percentile(heal, 99)
    print(f"heal latency: p50 {p50:.2f}s, p99 {p99:.2f}s ({len(heal)} crashes healed, "
          f"{len(crashes)} not yet when sampling stopped)")  # fmt: skip
    print(f"leader changes: {leader_changes}; seconds without a leader: {leaderless:.1f}")
    print(f"duplicates: {duplicates}, orphans: {orphans}, missing at the end: {missing}")
    return 0 if duplicates == 0 and orphans == 0 and missing == 0 and set(codes) == {0} else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
