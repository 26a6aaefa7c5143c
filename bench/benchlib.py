"""Shared helpers of the benchmark scripts: generated projects, a served sandbox, verdict lines.

Not a test module and not part of the package: the scripts in ``bench/`` import it from their own
directory (``python bench/plan_scale.py`` puts ``bench/`` first on ``sys.path``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from tests.served import ServedSandbox as _ServedSandbox  # noqa: E402

APP_ID = "0123456789abcdef0123456789abcdef"
CERTIFICATE = "5a4d1c3b2e6f708192a3b4c5d6e7f809"
CUSTOMER = ("bench", "bench")
BASIC = "Basic " + base64.b64encode(f"{CUSTOMER[0]}:{CUSTOMER[1]}".encode()).decode()
PG_SERVER_URL = (
    os.environ.get("RECONCILER_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
"""The PostgreSQL server of ``--state postgres`` runs (a database to connect to for admin)."""
RECONCILER = [sys.executable, "-m", "reconciler"]
"""How the CLI is run: the same interpreter, the same entry point as the console script."""


# ------------------------------------------------------------------------------------ reporting


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def runs_text(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + f"] {unit}"


def verdict(label: str, value: float, bound: float, text: str, *, higher_ok: bool = False) -> bool:
    """Print ``label: text (bound ...) OK`` and return whether the bound holds."""
    ok = value >= bound if higher_ok else value <= bound
    sign = ">=" if higher_ok else "<="
    print(f"{label}: {text} (bound {sign} {bound:.3g}) {'OK' if ok else 'OVER BOUND'}", flush=True)
    return ok


# ------------------------------------------------------------------------------------ processes


def bench_env(**extra: str) -> dict[str, str]:
    """Environment of every child: sandbox credentials, no colour, no debug surprises.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: with it (set in some shells), a checkout whose
    modules were never imported without it has no ``.pyc`` files, every run compiles every module
    (about 0.14 s of CPU more for a plan or an apply), and the warm-up runs do not warm up.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        AGORA_APP_ID=APP_ID,
        AGORA_APP_CERTIFICATE=CERTIFICATE,
        AGORA_CUSTOMER_ID=CUSTOMER[0],
        AGORA_CUSTOMER_SECRET=CUSTOMER[1],
        OPENAI_API_KEY="sk-bench-openai",
        TTS_KEY="bench-tts-key",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


@dataclass
class ChildRun:
    wall: float
    maxrss_kb: int
    returncode: int
    stdout: bytes
    stderr: bytes
    cpu: float = 0.0
    """User + system CPU seconds of the child (and its own children): unlike the wall time, not
    stretched by other work on a shared machine."""


def children_cpu() -> float:
    """User + system CPU seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a running process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], ok_codes: Sequence[int] = (0,)
) -> ChildRun:
    """Run a child to completion and time it (``maxrss_kb`` is 0: see :func:`run_child_rss`)."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu_before
    if proc.returncode not in ok_codes:
        sys.stderr.write(err.decode(errors="replace")[-4000:])
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return ChildRun(wall, 0, proc.returncode, out, err, cpu)


RSS_HELPER = """
import os, subprocess, sys, time
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    started = time.perf_counter()
    proc = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, wall)
"""
"""Runs a command and prints its exit code, peak RSS (KiB) and wall time: a small process, so
that the command starts from its small resident size (see :func:`run_child_rss`)."""


def run_child_rss(
    argv: Sequence[str], *, cwd: Path, env: dict[str, str], ok_codes: Sequence[int] = (0,)
) -> ChildRun:
    """Like :func:`run_child`, with the child's own peak RSS from ``os.wait4``.

    The child is started by a small helper process (:data:`RSS_HELPER`), not by this one:
    Linux counts in a process's ``ru_maxrss`` the peak resident size of the process it was
    forked from (the memory it shared until ``exec``), so a child of this process, once this
    process has held a large plan's output, would report this process's peak as its own.
    Output goes to temporary files (not pipes) so that waiting on the pid is all it takes.
    """
    out_path = cwd / ".bench-stdout"
    err_path = cwd / ".bench-stderr"
    helper = [sys.executable, "-c", RSS_HELPER, str(out_path), str(err_path), *argv]
    done = subprocess.run(helper, cwd=cwd, env=env, capture_output=True, check=True)
    code, maxrss_kb, wall = done.stdout.split()
    stdout, stderr = out_path.read_bytes(), err_path.read_bytes()
    out_path.unlink()
    err_path.unlink()
    if int(code) not in ok_codes:
        sys.stderr.write(stderr.decode(errors="replace")[-4000:])
        raise SystemExit(f"{' '.join(argv)} exited {int(code)}")
    return ChildRun(float(wall), int(maxrss_kb), int(code), stdout, stderr)


def startup_time(runs: int = 5) -> float:
    """Median wall of ``reconciler --version``: the CLI's fixed cost."""
    env = bench_env()
    walls = [run_child([*RECONCILER, "--version"], cwd=ROOT, env=env).wall for _ in range(runs)]
    return median(walls)


class ServedSandbox(_ServedSandbox):
    """``reconciler sandbox serve`` on a free loopback port with its own SQLite file."""

    def __init__(self, db: Path, *, latency_ms: float, pcu_limit: int, stop_delay: float = 0.2):
        # Each channel starts with its agent's remote users present, so that agents started
        # early in a long run are still running (not idled out) when the run is checked.
        args = ["--pcu-limit", str(pcu_limit), "--latency-ms", str(latency_ms),
                "--presence", "occupied"]  # fmt: skip
        super().__init__(db=str(db), args=[*args, "--stop-delay", str(stop_delay)], env=bench_env())

    @property
    def engine_url(self) -> str:
        return f"{self.url}/api/conversational-ai-agent"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        response = httpx.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json() if response.content else None

    def cpu(self) -> float:
        """CPU seconds the sandbox server has used so far."""
        return process_cpu(self.process.pid)

    def requests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", "requests")["requests"]
        return found

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> ServedSandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------- projects

PARTIAL = """\
# Partial shared by every generated agent: OpenAI LLM, turn detection, RTM.
token: auto
properties:
  remote_rtc_uids: ["*"]
  idle_timeout: 120
  llm:
    url: https://api.openai.com/v1/chat/completions
    api_key: ${OPENAI_API_KEY}
    max_history: 32
    params:
      model: gpt-4o-mini
      max_tokens: 512
      temperature: 0.4
  turn_detection:
    mode: default
    config:
      end_of_speech:
        mode: semantic
  parameters:
    data_channel: rtm
    enable_metrics: true
  advanced_features:
    enable_rtm: true
"""

TEAMS = ("support", "sales", "billing", "onboarding", "retention")
LOCALES = (("en-US", "en-US-AndrewMultilingualNeural"), ("de-DE", "de-DE-KatjaNeural"),
           ("fr-FR", "fr-FR-DeniseNeural"), ("es-ES", "es-ES-ElviraNeural"))  # fmt: skip


def agent_name(i: int) -> str:
    return f"agent-{i:05d}"


def manifest_text(i: int, *, variant: int = 0) -> str:
    """A realistic manifest (~40 lines): extends the partial, interpolates a secret.

    ``variant`` 1 changes the prompt (an in-place update), 2 changes the TTS voice (a restart).
    """
    team = TEAMS[i % len(TEAMS)]
    language, voice = LOCALES[i % len(LOCALES)]
    if variant == 2:
        voice = "en-US-EmmaMultilingualNeural"
    extra = " Always confirm the caller's account number first." if variant == 1 else ""
    return f"""\
# Generated agent {i}: {team} desk, {language}.
name: {agent_name(i)}
extends: _base/openai.yaml
properties:
  channel: {team}-{i:05d}
  agent_rtc_uid: "{100000 + i}"
  labels:
    team: {team}
    locale: {language}
    cost_center: "cc-{i % 97:03d}"
  llm:
    system_messages:
      - role: system
        content: |
          You are the {team} voice agent number {i} of Acme Cloud. Answer briefly and in
          plain words, in the caller's language ({language}). If a question is about money,
          offer to open a ticket; never promise refunds or discounts.{extra}
          Escalate to a human when the caller asks twice.
    greeting_message: Hi, this is Acme {team}. How can I help?
    failure_message: Sorry, I had trouble with that. Could you say it again?
    params:
      model: gpt-4o-mini
      max_tokens: {256 + (i % 4) * 64}
      temperature: 0.{(i % 7) + 2}
  asr:
    vendor: ares
    language: {language}
  tts:
    vendor: microsoft
    params:
      key: ${{TTS_KEY}}
      region: eastus
      voice_name: {voice}
      speed: 1.0
  interruption:
    enable: true
    mode: start_of_speech
"""


def settings_text(
    engine: str = "sandbox", *, parallelism: int | None = 10, cap: int = 1_000_000
) -> str:
    """``reconciler.yaml``; ``parallelism`` None leaves the setting at its default."""
    text = f"""\
engine: {engine}
app_id: ${{AGORA_APP_ID}}
auth: basic
app_certificate: ${{AGORA_APP_CERTIFICATE}}
state: state/agents.json
max_concurrent_agents: {cap}
"""
    return text if parallelism is None else text + f"parallelism: {parallelism}\n"


def write_project(
    directory: Path, n: int, *, engine: str = "sandbox", parallelism: int | None = 10,
    cap: int = 1_000_000, variants: Callable[[int], int] = lambda _i: 0,
) -> None:  # fmt: skip
    """A project of ``n`` agents, one manifest file each (``variants(i)`` picks the text)."""
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "agents.d" / "_base").mkdir(parents=True)
    (directory / "state").mkdir()
    (directory / "reconciler.yaml").write_text(
        settings_text(engine, parallelism=parallelism, cap=cap), encoding="utf-8"
    )
    (directory / "agents.d" / "_base" / "openai.yaml").write_text(PARTIAL, encoding="utf-8")
    for i in range(n):
        path = directory / "agents.d" / f"{agent_name(i)}.yaml"
        path.write_text(manifest_text(i, variant=variants(i)), encoding="utf-8")


def record_state(directory: Path, *, agent_ids: dict[str, str] | None = None) -> None:
    """Record every agent of the project as started (in-process, with the product's own code).

    ``agent_ids`` gives the engine id of each agent (default: a made-up id per agent).
    """
    from reconciler.manifests import load_desired, load_settings
    from reconciler.models import AgentRecord
    from reconciler.plan import desired_view
    from reconciler.state import LocalStateStore

    env = bench_env()
    settings = load_settings(directory, None, env)
    desired = load_desired(settings, env)
    store = LocalStateStore(settings.state_path)
    doc = store.load()
    now = time.time()
    agents = {}
    for number, (name, agent) in enumerate(desired.agents.items()):
        view = desired_view(agent, doc.salt)
        agent_id = (agent_ids or {}).get(name) or f"A{number:031d}"
        agents[name] = AgentRecord(
            name=name, agent_id=agent_id, wire_name=f"{name}-1", generation=1,
            channel=agent.channel, started_at=now, token_mode=agent.token_mode,
            token_expires_at=now + 86400 if agent.token_mode == "auto" else None,
            spec=view.spec, spec_digest=view.digest,
        )  # fmt: skip
    store.write(doc.model_copy(update={"agents": agents}))


def differing(i: int) -> int:
    """10% of agents differ from the recorded state: half in place, half forcing a restart."""
    if i % 10 != 3:
        return 0
    return 1 if i % 20 == 3 else 2


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server of ``server_url``, dropped on exit."""
    import psycopg

    name = f"reconciler_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
