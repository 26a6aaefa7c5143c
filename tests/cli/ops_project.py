"""A copy of the example project on the in-process sandbox, for the operations CLI tests.

The CLI runs through its real entry point (:func:`tests.reliability.inproc.run_cli`); the test
reaches the same sandbox database through a second in-process app (:class:`tests.apply.harness.
World`) to crash agents, move the clock or start agents behind the tool's back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from reconciler.sandbox import SandboxConfig, create_app
from reconciler.state import LocalStateStore
from tests.apply.harness import World
from tests.reliability.inproc import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]


class OpsProject:
    """The example project (three agents) in ``directory``, engine: sandbox."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        shutil.copytree(ROOT / "agents.d", directory / "agents.d")
        shutil.copy(ROOT / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
        self._world: World | None = None

    @property
    def state_file(self) -> Path:
        return self.dir / "state" / "agents.json"

    def run(self, *args: str) -> CliResult:
        return run_cli("-C", str(self.dir), *args)

    def ok(self, *args: str, code: int = 0) -> CliResult:
        result = self.run(*args)
        assert result.code == code, str(result)
        assert "Traceback" not in result.output, str(result)
        return result

    def state(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return doc

    def agent_id(self, name: str) -> str:
        return str(self.state()["agents"][name]["agent_id"])

    @property
    def engine(self) -> World:
        """The project's sandbox engine, opened on its database (after the first command)."""
        if self._world is None:
            db = self.dir / ".sandbox" / "engine.db"
            db.parent.mkdir(parents=True, exist_ok=True)
            app = create_app(
                SandboxConfig(
                    customer_id="sandbox",
                    customer_secret="sandbox",
                    require_token=False,
                    stop_delay_s=0.5,
                    db_path=str(db),
                )
            )
            self._world = World(tmp=self.dir, app=app, store=LocalStateStore(self.state_file))
        return self._world

    def status(self, agent_id: str) -> str:
        return str(self.engine.control("GET", f"/_sandbox/agents/{agent_id}")["status"])

    def crash(self, agent_id: str, message: str) -> None:
        self.engine.control("POST", f"/_sandbox/agents/{agent_id}/crash", {"message": message})

    def close(self) -> None:
        if self._world is not None:
            self._world.app.state.sandbox.close()
