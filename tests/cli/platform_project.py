"""The example project with its Platform manifests only, run in-process, and calls to its
(in-process sandbox) Platform as someone in the console makes them.

:class:`Platform` runs the CLI on such a project against an in-process sandbox app the test
holds (fault rules, the request log, the Platform's own answers); :func:`platform_on` makes one
and closes its sandbox after the test (the CLI conftest's ``fresh_platform`` and
``applied_platform`` fixtures)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.project.connect as connect
from reconciler.manifests import load_settings
from reconciler.models import Settings
from reconciler.models.state import StateDoc
from reconciler.project.platform import PlatformSession
from reconciler.sandbox import SandboxConfig, create_app
from reconciler.state import open_backend
from tests.cli.cli_helpers import example_project
from tests.reliability.inproc import CliResult, run_cli


def platform_project(tmp_path: Path) -> Path:
    """The example project (``tmp_path/p``) with ``agents.d/platform.yaml`` only."""
    project = example_project(tmp_path / "p")
    for manifest in (project / "agents.d").glob("*.yaml"):
        if manifest.name != "platform.yaml":
            manifest.unlink()
    return project


def console(project: Path, call: str, *args: Any) -> Any:
    """One call of :class:`~reconciler.project.platform.PlatformSession` on the project's
    Platform (``get_agent``, ``update_agent``, ``delete_number``, ...)."""

    async def go() -> Any:
        session = PlatformSession(load_settings(project, None, {}), read_only=False)
        async with session.connect() as api:
            return await getattr(api, call)(*args)

    return asyncio.run(go())


def recorded_id(project: Path, address: str) -> str:
    """The id state records for ``address``."""
    state = json.loads((project / "state" / "agents.json").read_text(encoding="utf-8"))
    return str(state["resources"][address]["id"])


ROOT = Path(__file__).resolve().parents[2]
APP_ID = "0123456789abcdef0123456789abcdef"
PLATFORM = f"/conversational-ai/v1/projects/{APP_ID}"
NUMBER = "PhoneNumber/support-line"
SAVED = "SavedAgent/support"
KEYS = "SecretSet/llm_keys"


class Platform:
    """The example project's Platform manifests on one in-process sandbox app the test holds."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch, state: str) -> None:
        self.dir = directory
        (directory / "agents.d").mkdir(parents=True)
        shutil.copy(ROOT / "agents.d" / "platform.yaml", directory / "agents.d")
        settings = (ROOT / "tests" / "single_environment.yaml").read_text(encoding="utf-8")
        assert "state: state/agents.json\n" in settings
        (directory / "reconciler.yaml").write_text(
            settings.replace("state: state/agents.json\n", f"state: {state}\n"),
            encoding="utf-8",
        )
        self.state_setting = state
        db = directory / ".sandbox" / "engine.db"
        db.parent.mkdir()
        self.app = create_app(
            SandboxConfig(customer_id="sandbox", customer_secret="sandbox", db_path=str(db))
        )

        def shared(_settings: Settings, **_: bool) -> tuple[httpx.AsyncBaseTransport, Any]:
            return httpx.ASGITransport(app=self.app), lambda: None

        monkeypatch.setattr(connect, "sandbox_transport", shared)

    def run(self, *args: str) -> CliResult:
        return run_cli("-C", str(self.dir), *args)

    def ok(self, *args: str, code: int = 0) -> CliResult:
        result = self.run(*args)
        assert result.code == code, str(result)
        assert "Traceback" not in result.output, str(result)
        return result

    def state(self) -> StateDoc:
        """The state as the next process reads it (a new store: the write is durable)."""
        settings = Settings(project_dir=self.dir, state=self.state_setting)
        return open_backend(settings, {}).store.load()

    def edit(self, old: str, new: str) -> None:
        path = self.dir / "agents.d" / "platform.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new), encoding="utf-8")

    def drop_number_manifest(self) -> None:
        path = self.dir / "agents.d" / "platform.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: text.index("---\nkind: PhoneNumber")], encoding="utf-8")

    def plan(self, *args: str) -> dict[str, str]:
        """Each resource's planned action, by address."""
        plan = json.loads(self.ok("plan", "--format", "json", *args).stdout)
        return {r["address"]: r["action"] for r in plan.get("resources", [])}

    def control(self, method: str, path: str, body: Any = None) -> Any:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
                return await c.request(method, f"/_sandbox{path}", json=body)

        response = asyncio.run(go())
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **rule: Any) -> None:
        self.control("POST", "/faults/rules", rule)

    def held(self, collection: str, ident: str) -> int:
        """The status the Platform answers a GET of the resource with."""

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
                auth = httpx.BasicAuth("sandbox", "sandbox")
                return await c.get(f"{PLATFORM}/{collection}/{ident}", auth=auth)

        return asyncio.run(go()).status_code


def platform_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str) -> Iterator[Platform]:
    """A :class:`Platform` project with its state at ``state``; its sandbox closed after use."""
    made = Platform(tmp_path / "project", monkeypatch, state)
    yield made
    made.app.state.sandbox.close()
