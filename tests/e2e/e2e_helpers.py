"""Helpers of the end-to-end tests: a served sandbox (a real process on a real port), a copy of
the example project pointed at it, and the CLI run as a real subprocess with a controlled
environment (no TTY: stdin is /dev/null)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.apply.records import wire_name
from reconciler.engine import mint_agent_token
from reconciler.state import LocalStateStore
from tests.processes import opened
from tests.secret_scan import find_leaks
from tests.served import ServedSandbox

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "0123456789abcdef0123456789abcdef"

# Distinctive secret values: none of them (nor their base64) may ever leave the process except
# towards the engine.
CUSTOMER_ID = "e2e-customer-id-5d1f"
CUSTOMER_SECRET = "e2e-CUSTOMER-secret-9a7c3b1e"
APP_CERTIFICATE = "e2ec3rt1f1cate0000e2ec3rt1f1cat3"  # 32 characters
SECRETS: dict[str, str] = {
    "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET,
    "AGORA_APP_CERTIFICATE": APP_CERTIFICATE,
    "OPENAI_API_KEY": "sk-e2e-OPENAI-key-4f8e2d6c0a",
    "DEEPGRAM_API_KEY": "dg-e2e-DEEPGRAM-key-7b3a9e1f",
    "ELEVENLABS_API_KEY": "el-e2e-ELEVEN-key-2c6d8f0b4a",
    "AZURE_TTS_KEY": "az-e2e-AZURE-key-1e5f9c3d7b",
    "SIP_PASSWORD": "sip-e2e-PASSWORD-8d2b6f0e",
}
ENGINE_PATH = f"/api/conversational-ai-agent/v2/projects/{APP_ID}"
PLATFORM_PATH = f"/conversational-ai/v1/projects/{APP_ID}"
BASIC_CREDENTIAL = base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()


# -- the served sandbox ---------------------------------------------------------------------


class Sandbox:
    """A sandbox engine served by uvicorn in a subprocess, and its control routes."""

    def __init__(self, server: ServedSandbox) -> None:
        self.server = server
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def url(self) -> str:
        return self.server.url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def agents(self, **filters: str) -> list[dict[str, Any]]:
        """Every agent the sandbox knows (views with join body, updates, token), oldest first."""
        agents: list[dict[str, Any]] = self.control(
            "GET", "/agents?" + "&".join(f"{k}={v}" for k, v in filters.items())
        )["agents"]
        return agents

    def running(self) -> dict[str, dict[str, Any]]:
        """RUNNING agents by wire name."""
        return {a["name"]: a for a in self.agents(status="RUNNING")}

    def agent(self, agent_id: str) -> dict[str, Any]:
        view: dict[str, Any] = self.control("GET", f"/agents/{agent_id}")
        return view

    def advance(self, seconds: float) -> None:
        self.control("POST", "/clock/advance", {"seconds": seconds})

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.control("POST", "/faults/rules", rule)
        return created

    def faults(self) -> dict[str, Any]:
        faults: dict[str, Any] = self.control("GET", "/faults")
        return faults

    def fault_hits(self) -> int:
        """How many requests the fault rules have matched so far (a delayed one counts at once)."""
        return sum(int(rule["hits"]) for rule in self.faults()["rules"])

    def requests(self, route: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control("GET", f"/requests?route={route}")["requests"]
        return entries

    def reset(self) -> None:
        self.control("POST", "/reset")

    def platform(self, kind: str) -> list[dict[str, Any]]:
        """Every Platform resource of ``kind`` the sandbox holds (``secret_sets``, ``agents``,
        ``numbers``, ...), as its control view shows it (never a secret value)."""
        found = self.control("GET", f"/platform/{kind}?app_id={APP_ID}")
        items: list[dict[str, Any]] = found[kind] if isinstance(found, dict) else found
        return items

    def platform_call(
        self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A Platform request made directly (as the console would), with Basic auth."""
        auth = {"Authorization": f"Basic {BASIC_CREDENTIAL}", **(headers or {})}
        return self.http.request(method, f"{PLATFORM_PATH}/{path}", json=body, headers=auth)

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


def join_directly(sandbox: Sandbox, name: str, channel: str, uid: str) -> str:
    """Start an agent on the sandbox behind the reconciler's back; return its id."""
    token, _ = mint_agent_token(APP_ID, APP_CERTIFICATE, channel, uid, 3600, time.time(), False)
    body: dict[str, Any] = {
        "name": name,
        "properties": {
            "channel": channel,
            "token": token,
            "agent_rtc_uid": uid,
            "remote_rtc_uids": ["*"],
            "llm": {
                "url": "https://api.openai.com/v1/chat/completions",
                "api_key": "sk-stray",
                "system_messages": [{"role": "system", "content": "stray"}],
            },
            "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus"}},
        },
    }
    response = sandbox.http.post(
        f"{ENGINE_PATH}/join", json=body, headers={"Authorization": f"Basic {BASIC_CREDENTIAL}"}
    )
    assert response.status_code == 200, response.text
    agent_id: str = response.json()["agent_id"]
    return agent_id


def start_sandbox(workdir: Path) -> Sandbox:
    """``reconciler sandbox serve`` on a free loopback port; returns once it answers."""
    env = {
        **os.environ,
        "AGORA_CUSTOMER_ID": CUSTOMER_ID,
        "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET,
        "AGORA_APP_CERTIFICATE": APP_CERTIFICATE,
    }
    args = ["--stop-delay", "0.2", "--pcu-limit", "50", "--seed", "5"]
    server = ServedSandbox(
        db=str(workdir / "engine.db"), args=args, env=env, log=workdir / "sandbox.log", cwd=workdir
    )
    return Sandbox(server)


# -- the project and the CLI ------------------------------------------------------------------


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return (
            f"$ reconciler {' '.join(self.args)}  -> exit {self.code}\n"
            f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}"
        )


_WIRE_SUFFIX = re.compile(r"-([0-9]+)(?:-[0-9a-f]{8})?$")


def agent_name(wire: str) -> str:
    """The manifest name in a wire name (``support-en-1-3f2a9c1e`` or older ``support-en-1``)."""
    return _WIRE_SUFFIX.sub("", wire)


def generation(wire: str) -> int:
    """The generation in a wire name."""
    found = _WIRE_SUFFIX.search(wire)
    assert found is not None, wire
    return int(found.group(1))


class Project:
    """A copy of the example project in a temporary directory, pointed at a served sandbox."""

    def __init__(self, directory: Path, sandbox: Sandbox, *, with_platform: bool = False) -> None:
        self.dir = directory
        self.sandbox = sandbox
        self.env: dict[str, str] = base_env()
        self.results: list[Result] = []
        shutil.copytree(ROOT / "agents.d", directory / "agents.d")
        if not with_platform:  # the running agents only, unless a test is about the Platform
            (directory / "agents.d" / "platform.yaml").unlink()
        shutil.copy(ROOT / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
        self.set_setting("engine", sandbox.url)
        self.set_setting("platform", sandbox.url)

    # files

    @property
    def settings_file(self) -> Path:
        return self.dir / "reconciler.yaml"

    @property
    def state_file(self) -> Path:
        return self.dir / "state" / "agents.json"

    def manifest(self, name: str) -> Path:
        return self.dir / "agents.d" / f"{name}.yaml"

    def wire(self, name: str, generation: int = 1) -> str:
        """The wire name this project's state gives ``name`` at ``generation`` (an empty state
        is written first if there is none, so that its lineage is fixed)."""
        store = LocalStateStore(self.state_file)
        if not store.exists:
            store.write(store.load())
        return wire_name(name, generation, store.load().lineage)

    def set_setting(self, key: str, value: object) -> None:
        """Set a top-level key of reconciler.yaml (replacing its line, or appending one)."""
        text = self.settings_file.read_text(encoding="utf-8")
        line = f"{key}: {value}"
        pattern = re.compile(rf"^{re.escape(key)}:.*$", re.MULTILINE)
        text = pattern.sub(line, text) if pattern.search(text) else text + line + "\n"
        self.settings_file.write_text(text, encoding="utf-8")

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.manifest(name)
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def state(self) -> dict[str, Any]:
        """The recorded state as another process reads it (write log replayed)."""
        return LocalStateStore(self.state_file).load().model_dump(mode="json")

    # the CLI

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "reconciler", "-C", str(self.dir), *args]

    def run(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> Result:
        """Run ``reconciler -C <project> ARGS`` as a subprocess, without a TTY."""
        completed = subprocess.run(
            self.command(*args),
            cwd=self.dir,
            env=dict(env if env is not None else self.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)
        self.results.append(result)
        return result

    def ok(self, *args: str, code: int = 0, env: Mapping[str, str] | None = None) -> Result:
        """Run and check the exit code (the whole output is shown when it differs)."""
        result = self.run(*args, env=env)
        assert result.code == code, str(result)
        assert "Traceback" not in result.stderr, str(result)
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return opened(
            subprocess.Popen(
                self.command(*args),
                cwd=self.dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )

    def apply(self) -> Result:
        return self.ok("apply", "--auto-approve")


NUMBERED_MANIFEST = """\
name: {name}
token: auto
properties:
  channel: {name}
  agent_rtc_uid: "1001"
  remote_rtc_uids: ["*"]
  idle_timeout: 0
  llm:
    url: https://api.openai.com/v1/chat/completions
    api_key: ${{OPENAI_API_KEY}}
    system_messages: [{{role: system, content: You are helpful.}}]
    params: {{model: gpt-4o-mini}}
  tts:
    vendor: {vendor}
    params:
      key: ${{AZURE_TTS_KEY}}
      voice_name: en-US-AndrewMultilingualNeural
"""


def write_numbered_agents(project: Project, count: int, vendor: str) -> list[str]:
    """Manifests ``agent-00`` .. for ``count`` agents, each in its own channel, with TTS
    ``vendor`` (changing it restarts every agent); returns their names."""
    names = [f"agent-{i:02}" for i in range(count)]
    for name in names:
        project.manifest(name).write_text(
            NUMBERED_MANIFEST.format(name=name, vendor=vendor), encoding="utf-8"
        )
    return names


def base_env() -> dict[str, str]:
    """A controlled environment: what Python needs, the credentials and the manifests' keys."""
    env = {
        key: os.environ[key]
        for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
        if key in os.environ
    }
    env["AGORA_CUSTOMER_ID"] = CUSTOMER_ID
    env.update(SECRETS)
    return env


def leaks(texts: Iterable[tuple[str, str]], secrets: Mapping[str, str] = SECRETS) -> list[str]:
    """Where any secret (plain or in base64) or the Basic credential appears in ``texts``."""
    return find_leaks(texts, secrets, BASIC_CREDENTIAL)
