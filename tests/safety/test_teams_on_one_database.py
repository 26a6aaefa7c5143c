"""The README's team setup: one PostgreSQL database, ``state_key: team-a`` and ``team-b``, one
App ID and engine. Team B, killed with its joins in the journal, never adopts team A's agents,
and B's destroy leaves them running (issue 28 (c))."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import pytest

from reconciler.apply.records import wire_name
from reconciler.models import JournalEntry, Settings
from reconciler.state import open_backend
from tests.reliability.inproc import CliResult, run_cli
from tests.state.pg import pg_url

__all__ = ["pg_url"]

ROOT = Path(__file__).resolve().parents[2]


def team(tmp_path: Path, key: str) -> Path:
    directory = tmp_path / key
    # Agents only: the example's Platform resources (a secret set, ...) are named per App ID,
    # and two teams declaring the same one on one App ID is a conflict by design.
    ignore = shutil.ignore_patterns("platform.yaml")
    shutil.copytree(ROOT / "agents.d", directory / "agents.d", ignore=ignore)
    settings = (ROOT / "tests" / "single_environment.yaml").read_text(encoding="utf-8")
    settings = settings.replace("state: state/agents.json", "state: ${RECONCILER_STATE_URL}")
    shared = tmp_path / "engine.db"  # one engine for both teams
    settings += f"state_key: {key}\nsandbox_db: {shared}\n"
    (directory / "reconciler.yaml").write_text(settings, encoding="utf-8")
    return directory


def cli(directory: Path, url: str, *args: str) -> CliResult:
    result = run_cli("-C", str(directory), *args, env={"RECONCILER_STATE_URL": url})
    assert "Traceback" not in result.output, result
    return result


@pytest.mark.slow
def test_team_b_killed_mid_apply_never_adopts_or_stops_team_a_agents(
    tmp_path: Path, pg_url: str
) -> None:
    team_a, team_b = team(tmp_path, "team-a"), team(tmp_path, "team-b")
    assert cli(team_a, pg_url, "apply", "--auto-approve").code == 0
    a_store = open_backend(Settings(project_dir=team_a, state=pg_url, state_key="team-a"), {})
    theirs = {name: r.agent_id for name, r in a_store.store.load().agents.items()}
    assert len(theirs) == 3

    # Team B's run is killed with a join of every agent in its journal (none reached the engine).
    b_store = open_backend(Settings(project_dir=team_b, state=pg_url, state_key="team-b"), {})
    doc = b_store.store.load()
    journal = [
        JournalEntry(
            id=str(uuid.uuid4()),
            op="join",
            name=name,
            wire_name=wire_name(name, 1, doc.lineage),
            generation=1,
            channel=record.channel,
            created_at=time.time(),
        )
        for name, record in a_store.store.load().agents.items()
    ]
    b_store.store.write(doc.model_copy(update={"journal": journal}))

    plan = cli(team_b, pg_url, "plan")
    assert plan.code == 0, plan
    assert "adopt" not in plan.stdout and "will adopt" not in plan.output
    applied = cli(team_b, pg_url, "apply", "--auto-approve")
    assert applied.code == 0, applied
    ours = {name: r.agent_id for name, r in b_store.store.load().agents.items()}
    assert sorted(ours) == sorted(theirs) and not set(ours.values()) & set(theirs.values())
    assert cli(team_b, pg_url, "destroy", "--auto-approve").code == 0
    assert b_store.store.load().agents == {}
    again = cli(team_a, pg_url, "plan", "--detailed-exitcode")
    assert again.code == 0, again  # team A's agents all still run, as recorded
