"""A project of N copies of the example's support-en agent (``agent-1`` ... ``agent-N``), each in
its own channel, for the CLI tests that need more than three agents."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def many_agents_project(directory: Path, count: int) -> Path:
    """The example's settings and partials, and ``count`` agents; the cap raised to fit."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "reconciler.yaml").write_text(
        "engine: sandbox\n"
        "app_id: 0123456789abcdef0123456789abcdef\n"
        "app_certificate: ${AGORA_APP_CERTIFICATE:-5a4d1c3b2e6f708192a3b4c5d6e7f809}\n"
        "state: state/agents.json\n"
        f"max_concurrent_agents: {count}\n"
        "parallelism: 10\n",
        encoding="utf-8",
    )
    agents = directory / "agents.d"
    shutil.copytree(ROOT / "agents.d" / "_base", agents / "_base")
    template = (ROOT / "agents.d" / "support-en.yaml").read_text(encoding="utf-8")
    for i in range(1, count + 1):
        text = template.replace("name: support-en", f"name: agent-{i}")
        text = text.replace("  channel: support-en", f"  channel: ch-{i}")
        text = text.replace('agent_rtc_uid: "1001"', f'agent_rtc_uid: "{2000 + i}"')
        (agents / f"agent-{i}.yaml").write_text(text, encoding="utf-8")
    return directory
