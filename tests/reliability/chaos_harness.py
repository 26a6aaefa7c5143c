"""Machinery of the reliability suite and of ``bench/chaos.py``: a served sandbox engine, a
generated project of N agents pointed at it, the CLI as a real subprocess, kill trials, and the
convergence check that every trial ends with.

Nothing here asserts: functions return what they saw (problems as strings, figures as numbers),
so the tests assert and the bench script prints.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reconciler.apply.records import wire_name
from reconciler.sandbox.config import FAULT_SETTINGS
from reconciler.state import LocalStateStore
from tests.e2e.e2e_helpers import agent_name
from tests.processes import opened
from tests.secret_scan import find_leaks
from tests.served import ServedSandbox

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "0123456789abcdef0123456789abcdef"
CUSTOMER_ID = "rel-customer-id-6c2a"
CUSTOMER_SECRET = "rel-CUSTOMER-secret-0b9d4e7f"
APP_CERTIFICATE = "re1c3rt1f1cate9999re1c3rt1f1cat3"  # 32 characters
OPENAI_KEY = "sk-rel-OPENAI-key-81d3f0a6c4"
TTS_KEY = "az-rel-AZURE-key-5b7e9c1d3f"

SECRETS: dict[str, str] = {
    "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET,
    "AGORA_APP_CERTIFICATE": APP_CERTIFICATE,
    "OPENAI_API_KEY": OPENAI_KEY,
    "AZURE_TTS_KEY": TTS_KEY,
}
"""Distinctive secret values: none of them (nor their base64) may appear in anything written."""
BASIC_CREDENTIAL = base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()

ENGINE_ACTIVE = ("STARTING", "RUNNING", "RECOVERING", "IDLE")
"""Statuses of an agent that is (or will be) in its channel."""


# -- the served engine -------------------------------------------------------------------------


class EngineControls:
    """The ``/_sandbox/`` control routes of a sandbox served at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30.0)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/_sandbox{path}", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{method} /_sandbox{path}: {response.status_code} {response.text}")
        return response.json()

    def agents(self) -> list[dict[str, Any]]:
        agents: list[dict[str, Any]] = self.control("GET", "/agents")["agents"]
        return agents

    def reset(self, **settings: Any) -> None:
        """Forget every agent, fault and setting; then apply ``settings`` (latency_ms, ...)."""
        self.control("POST", "/reset")
        faults = {k: v for k, v in settings.items() if k in _FAULT_KEYS}
        if faults:
            self.control("POST", "/faults", faults)
        rest = {k: v for k, v in settings.items() if k not in _FAULT_KEYS}
        if rest:
            self.control("POST", "/settings", rest)

    def faults(self, **values: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.control("POST", "/faults", values)
        return result

    def add_rule(self, **rule: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.control("POST", "/faults/rules", rule)
        return created

    def calm(self) -> None:
        """No more faults, latency or rules (agents and clock stay)."""
        self.control("DELETE", "/faults/rules")
        self.faults(latency_ms=0, jitter_ms=0, error_rate=0, rate_limit=0, drop_rate=0, routes=None)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until no agent is STOPPING (every stop the engine accepted has finished)."""
        deadline = time.monotonic() + timeout
        while any(a["status"] == "STOPPING" for a in self.agents()):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.http.close()


class Engine(EngineControls):
    """A sandbox engine served by uvicorn in a subprocess."""

    def __init__(self, server: ServedSandbox) -> None:
        super().__init__(server.url)
        self.server = server
        self.port = server.port

    def stop(self) -> None:
        self.close()
        self.server.stop()


_FAULT_KEYS = {*FAULT_SETTINGS, "seed", "routes"}


def start_engine(
    workdir: Path,
    *,
    latency_ms: float = 0.0,
    pcu_limit: int = 1000,
    stop_delay_s: float = 0.2,
    seed: int | None = None,
) -> Engine:
    """``reconciler sandbox serve`` on a free loopback port (in-memory db); waits for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AGORA_CUSTOMER_ID": CUSTOMER_ID, "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET}
    env.pop("AGORA_APP_CERTIFICATE", None)
    args = ["--pcu-limit", str(pcu_limit), "--latency-ms", str(latency_ms)]
    args += ["--stop-delay", str(stop_delay_s)]
    if seed is not None:
        args += ["--seed", str(seed)]
    log = workdir / f"sandbox-{uuid.uuid4().hex[:8]}.log"
    return Engine(ServedSandbox(db="", args=args, env=env, log=log, cwd=workdir))


# -- the project -------------------------------------------------------------------------------


@dataclass
class AgentSpec:
    """What a generated manifest says; ``prompt`` changes update in place, ``vendor`` restarts."""

    name: str
    prompt: str = "You answer questions."
    vendor: str = "microsoft"
    token: str | None = "auto"
    """``auto`` (the settings name a certificate, so the engine would refuse a join without one)."""

    @property
    def channel(self) -> str:
        return f"ch-{self.name}"

    def yaml(self) -> str:
        return (
            f"name: {self.name}\n"
            + (f"token: {self.token}\n" if self.token else "")
            + "properties:\n"
            f"  channel: {self.channel}\n"
            '  agent_rtc_uid: "1001"\n'
            '  remote_rtc_uids: ["*"]\n'
            "  idle_timeout: 0\n"
            "  llm:\n"
            "    url: https://api.openai.com/v1/chat/completions\n"
            "    api_key: ${OPENAI_API_KEY}\n"
            "    system_messages:\n"
            f"      - {{role: system, content: {json.dumps(self.prompt)}}}\n"
            "    params: {model: gpt-4o-mini}\n"
            "  tts:\n"
            f"    vendor: {self.vendor}\n"
            "    params:\n"
            "      key: ${AZURE_TTS_KEY}\n"
            "      region: eastus\n"
        )


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return (
            f"$ reconciler {' '.join(self.args)}  -> exit {self.code} ({self.seconds:.2f}s)\n"
            f"--- stdout ---\n{self.stdout[-4000:]}--- stderr ---\n{self.stderr[-4000:]}"
        )


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A controlled environment: what Python needs, the credentials, the manifests' keys."""
    env = {
        key: os.environ[key]
        for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
        if key in os.environ
    }
    env["AGORA_CUSTOMER_ID"] = CUSTOMER_ID
    env.update(SECRETS)
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


class ChaosProject:
    """A generated project directory (``reconciler.yaml`` + ``agents.d/``) on a served engine."""

    def __init__(self, directory: Path, engine: EngineControls, **settings: Any) -> None:
        self.dir = directory
        self.engine = engine
        self.env = base_env()
        self.specs: dict[str, AgentSpec] = {}
        self.settings: dict[str, Any] = {
            "engine": engine.url,
            "app_id": APP_ID,
            "auth": "basic",
            "app_certificate": "${AGORA_APP_CERTIFICATE}",
            "max_concurrent_agents": 500,
            "parallelism": 10,
            "stop_wait_timeout_s": 20,
            "request_timeout_s": 10,
        }
        self.settings.update(settings)
        (self.dir / "agents.d").mkdir(parents=True, exist_ok=True)
        self.write_settings()

    # files

    @property
    def state_file(self) -> Path:
        return self.dir / "state" / "agents.json"

    @property
    def backup_file(self) -> Path:
        return self.dir / "state" / "agents.json.backup"

    @property
    def lock_file(self) -> Path:
        return self.dir / "state" / "agents.json.lock"

    def write_settings(self, **changes: Any) -> None:
        self.settings.update(changes)
        lines = [f"{k}: {v}" for k, v in self.settings.items() if v is not None]
        (self.dir / "reconciler.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def set_agents(self, specs: Iterable[AgentSpec]) -> None:
        """Make ``agents.d/`` hold exactly ``specs``."""
        self.specs = {s.name: s for s in specs}
        directory = self.dir / "agents.d"
        for path in directory.glob("*.yaml"):
            if path.stem not in self.specs:
                path.unlink()
        for spec in self.specs.values():
            path = directory / f"{spec.name}.yaml"
            text = spec.yaml()
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")

    def wire(self, name: str, generation: int = 1) -> str:
        """The wire name this project's state gives ``name`` at ``generation`` (an empty local
        state is written first if there is none, so that its lineage is fixed)."""
        store = LocalStateStore(self.state_file)
        if not store.exists:
            store.write(store.load())
        return wire_name(name, generation, store.load().lineage)

    def forget_state(self) -> None:
        wal = self.state_file.with_name(self.state_file.name + ".wal")
        for path in (self.state_file, self.backup_file, wal):
            path.unlink(missing_ok=True)

    def state(self) -> dict[str, Any] | None:
        """The recorded state as another process reads it (write log replayed); None if none."""
        store = LocalStateStore(self.state_file)
        if not store.exists:
            return None
        return store.load().model_dump(mode="json")

    # the CLI

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "reconciler", "-C", str(self.dir), *args]

    def run(self, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None) -> Result:
        started = time.monotonic()
        done = subprocess.run(
            self.command(*args),
            cwd=self.dir,
            env=dict(env or self.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(args, done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def popen(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return opened(
            subprocess.Popen(
                self.command(*args),
                cwd=self.dir,
                env=dict(env or self.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )

    def apply(self, *extra: str, timeout: float = 120) -> Result:
        return self.run("apply", "--auto-approve", *extra, timeout=timeout)


def agent_specs(n: int, prefix: str = "agent") -> list[AgentSpec]:
    return [AgentSpec(f"{prefix}-{i:03d}") for i in range(n)]


# -- the convergence check ---------------------------------------------------------------------


@dataclass
class Check:
    """What the engine and the state say after a run, against the manifests."""

    problems: list[str] = field(default_factory=list)
    orphans: int = 0
    duplicates: int = 0
    missing: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_converged(project: ChaosProject) -> Check:
    """The active agents equal the manifests exactly, state agrees, the journal is empty.

    * duplicate: two active agents in one manifest's channel (or with one manifest's name);
    * orphan: an active agent that the state does not record;
    * missing: a manifest without an active agent, or a record whose agent is not active.
    """
    check = Check()
    project.engine.settle()
    state = project.state()
    if state is None:
        check.problems.append("no state file")
        state = {"agents": {}, "pending": []}
    records: dict[str, Any] = state.get("agents", {})
    if state.get("pending"):
        check.problems.append(f"journal not empty: {state['pending']}")
    active = [a for a in project.engine.agents() if a["status"] in ENGINE_ACTIVE]
    by_channel = Counter(a["channel"] for a in active)
    by_name = Counter(agent_name(a["name"]) for a in active)
    recorded_ids = {r["agent_id"]: name for name, r in records.items()}
    for spec in project.specs.values():
        n = max(by_channel[spec.channel], by_name[spec.name])
        if n > 1:
            check.duplicates += n - 1
            check.problems.append(f"{spec.name}: {n} active agents")
        elif n == 0:
            check.missing += 1
            check.problems.append(f"{spec.name}: no active agent")
    for agent in active:
        if agent["agent_id"] not in recorded_ids:
            check.orphans += 1
            check.problems.append(
                f"orphan: active agent {agent['agent_id']} ({agent['name']}) not in state"
            )
    active_ids = {a["agent_id"]: a for a in active}
    for name, record in records.items():
        if name not in project.specs:
            check.problems.append(f"{name}: recorded but not in the manifests")
        live = active_ids.get(record["agent_id"])
        if live is None:
            check.missing += 1
            check.problems.append(f"{name}: recorded agent {record['agent_id']} is not active")
        elif live["channel"] != record["channel"]:
            check.problems.append(f"{name}: recorded channel differs from the engine's")
    return check


# -- kill trials -------------------------------------------------------------------------------


@dataclass
class Trial:
    index: int
    signal: str
    kill_after_s: float
    killed_code: int | None
    """Exit code of the interrupted run (None: it had finished before the signal)."""
    recovery: Result
    check: Check
    changes: str = ""
    seconds: float = 0.0

    @property
    def converged(self) -> bool:
        return self.recovery.code == 0 and self.check.ok

    def describe(self) -> str:
        return (
            f"trial {self.index} ({self.changes or 'fresh start'}; {self.signal} after "
            f"{self.kill_after_s:.3f}s, killed run exit {self.killed_code}):\n"
            + "\n".join(f"  - {p}" for p in self.check.problems)
            + f"\n{self.recovery}"
        )


def mutate(
    specs: dict[str, AgentSpec], rng: random.Random, pool: list[str]
) -> tuple[list[AgentSpec], str]:
    """A random change set: some agents removed, some added back, prompts edited, vendors
    switched (restarts). Returns the new specs and a one-line summary."""
    current = dict(specs)
    names = sorted(current)
    removed = rng.sample(names, k=min(len(names), rng.randint(0, 4)))
    for name in removed:
        del current[name]
    absent = [n for n in pool if n not in current and n not in removed]
    added = rng.sample(absent, k=min(len(absent), rng.randint(0, 4)))
    for name in added:
        current[name] = AgentSpec(name)
    kept = sorted(set(current) - set(added))
    edited = rng.sample(kept, k=min(len(kept), rng.randint(0, 6)))
    for name in edited:
        spec = current[name]
        current[name] = AgentSpec(name, f"{spec.prompt} v{rng.randint(0, 10**6)}", spec.vendor)
    rest = sorted(set(kept) - set(edited))
    restarted = rng.sample(rest, k=min(len(rest), rng.randint(0, 4)))
    for name in restarted:
        spec = current[name]
        vendor = "elevenlabs" if spec.vendor == "microsoft" else "microsoft"
        current[name] = AgentSpec(name, spec.prompt, vendor)
    summary = f"-{len(removed)} +{len(added)} ~{len(edited)} updated, {len(restarted)} restarted"
    return sorted(current.values(), key=lambda s: s.name), summary


FLAKY_FAULTS: dict[str, Any] = {
    "error_rate": 0.3,
    "error_status": 503,
    "rate_limit": 0.2,
    "retry_after_s": 1,
    "latency_ms": 10,
    "jitter_ms": 30,
    "drop_rate": 0.05,
}
"""Issue 6's flaky engine: 30% 503s, 20% 429s with Retry-After, 10-40 ms, 5% dropped."""

SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


def kill_trial(
    project: ChaosProject,
    index: int,
    kill_after_s: float,
    *,
    sig: str = "SIGKILL",
    changes: str = "",
) -> Trial:
    """Run ``apply`` and send ``sig`` after ``kill_after_s``; then apply again and check."""
    started = time.monotonic()
    process = project.popen("apply", "--auto-approve")
    try:
        process.wait(timeout=kill_after_s)
        killed_code: int | None = None
    except subprocess.TimeoutExpired:
        process.send_signal(SIGNALS[sig])
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        killed_code = process.returncode
    else:
        process.communicate()
    recovery = project.apply()
    check = check_converged(project)
    return Trial(
        index,
        sig,
        kill_after_s,
        killed_code,
        recovery,
        check,
        changes,
        time.monotonic() - started,
    )


def calibrate(project: ChaosProject, runs: int = 2) -> float:
    """Seconds a full uninterrupted apply of the project takes from a clean engine, the fastest
    of ``runs`` (the window kills are drawn from); leaves the engine and state clean again."""
    settings = project.engine.control("GET", "/faults")
    best = float("inf")
    for _ in range(runs):
        project.engine.reset(latency_ms=settings["latency_ms"])
        project.forget_state()
        result = project.apply()
        if result.code != 0:
            raise RuntimeError(f"calibration apply failed:\n{result}")
        best = min(best, result.seconds)
    project.engine.reset(latency_ms=settings["latency_ms"])
    project.forget_state()
    return best


@dataclass
class Figures:
    trials: list[Trial] = field(default_factory=list)

    @property
    def converged(self) -> int:
        return sum(1 for t in self.trials if t.converged)

    @property
    def orphans(self) -> int:
        return sum(t.check.orphans for t in self.trials)

    @property
    def duplicates(self) -> int:
        return sum(t.check.duplicates for t in self.trials)

    @property
    def missing(self) -> int:
        return sum(t.check.missing for t in self.trials)

    @property
    def interrupted(self) -> int:
        return sum(1 for t in self.trials if t.killed_code is not None)

    def line(self) -> str:
        return (
            f"kill trials: {len(self.trials)}, converged: {self.converged}, "
            f"orphans: {self.orphans}, duplicates: {self.duplicates}"
        )


def run_kill_trials(
    project: ChaosProject,
    n_agents: int,
    trials: int,
    rng: random.Random,
    *,
    with_changes: bool,
    window_s: float,
    signals: tuple[str, ...] = ("SIGKILL",),
    on_trial: Any = None,
) -> Figures:
    """``trials`` kill trials. Without changes each trial starts from a clean engine and state
    (50 starts interrupted); with changes the project carries on from the previous trial and
    each trial first applies a random change set (removals, additions, updates, restarts)."""
    figures = Figures()
    pool = [s.name for s in agent_specs(n_agents + 10)]
    latency = project.engine.control("GET", "/faults")["latency_ms"]
    if with_changes:
        project.engine.reset(latency_ms=latency)
        project.forget_state()
        project.set_agents(agent_specs(n_agents))
        first = project.apply()
        if first.code != 0:
            raise RuntimeError(f"initial apply failed:\n{first}")
    for index in range(trials):
        if with_changes:
            specs, summary = mutate(project.specs, rng, pool)
            project.set_agents(specs)
        else:
            project.engine.reset(latency_ms=latency)
            project.forget_state()
            project.set_agents(agent_specs(n_agents))
            summary = ""
        kill_after = rng.uniform(0.0, window_s)
        sig = rng.choice(signals)
        trial = kill_trial(project, index, kill_after, sig=sig, changes=summary)
        figures.trials.append(trial)
        if on_trial is not None:
            on_trial(trial)
    return figures


# -- secrets -----------------------------------------------------------------------------------


def leaks(texts: Iterable[tuple[str, str]], secrets: Mapping[str, str] = SECRETS) -> list[str]:
    """Where any secret (plain or in base64) or the Basic credential appears in ``texts``."""
    return find_leaks(texts, secrets, BASIC_CREDENTIAL)
