"""The example project with its Platform manifests only, run in-process, and calls to its
(in-process sandbox) Platform as someone in the console makes them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from reconciler.manifests import load_settings
from reconciler.project.platform import PlatformSession
from tests.cli.cli_helpers import example_project


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
        session = PlatformSession(load_settings(project, None, {}))
        async with session.connect() as api:
            return await getattr(api, call)(*args)

    return asyncio.run(go())


def recorded_id(project: Path, address: str) -> str:
    """The id state records for ``address``."""
    state = json.loads((project / "state" / "agents.json").read_text(encoding="utf-8"))
    return str(state["resources"][address]["id"])
