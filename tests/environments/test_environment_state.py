"""A state records the environment it belongs to: another environment's commands refuse it.

Two environments may share an App ID and an engine (a staging and a production project on one
app, told apart by their states): the App ID and engine alone cannot tell their states apart, the
environment's name does. A state recorded without a name (a project that had no environments,
or an older state) takes it at its next write, so adopting environments refuses nothing and
restarts nothing. ``state rebind --env NAME`` moves a state to another environment on purpose.

Every project here is on the in-process sandbox, both environments on its one App ID; the state
is a local file, or a PostgreSQL database (a throwaway one per test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import EXIT_ERROR
from reconciler.models.settings import SANDBOX_APP_ID
from tests.apply.harness import MANIFEST_TEMPLATE
from tests.reliability.inproc import CliResult, run_cli
from tests.state.pg import pg_url

__all__ = ["pg_url"]

SHARED = """\
engine: sandbox
environments:
  staging:
    state: {staging}
  prod:
    state: {prod}
"""
"""Two environments on the sandbox's one App ID and engine; only their states differ."""

ANY_UID = MANIFEST_TEMPLATE.replace('agent_rtc_uid: "1001"', 'agent_rtc_uid: "0"')
"""An agent the engine gives a uid of its own: both environments' agents share an App ID and a
channel here, and two agents with one uid in one channel would clash (refused by every plan)."""

READ_ONLY = (("plan",), ("plan", "--no-refresh"), ("drift",), ("state", "list"))
WRITING = (("apply", "--auto-approve"), ("state", "rm", "alpha", "--force"))


class Project:
    """A project of two agents whose settings the test rewrites."""

    def __init__(self, directory: Path, state_url: str = "") -> None:
        self.dir = directory
        self.state_url = state_url
        (directory / "agents.d").mkdir(parents=True)
        for name in ("alpha", "beta"):
            self.add(name)

    def add(self, name: str) -> None:
        path = self.dir / "agents.d" / f"{name}.yaml"
        path.write_text(ANY_UID.format(name=name), encoding="utf-8")

    def settings(self, text: str) -> None:
        (self.dir / "reconciler.yaml").write_text(text, encoding="utf-8")

    def run(self, *args: str) -> CliResult:
        result = run_cli("-C", str(self.dir), *args, env={"STATE_URL": self.state_url})
        assert "Traceback" not in result.output, result
        return result

    def ok(self, *args: str) -> CliResult:
        result = self.run(*args)
        assert result.code == 0, result
        return result

    def state(self, *env: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.ok(*env, "state", "pull").stdout)
        return loaded

    def agent_ids(self, *env: str) -> dict[str, str]:
        return {name: r["agent_id"] for name, r in self.state(*env)["agents"].items()}


def assert_refused_as_staging(result: CliResult) -> None:
    """The refusal of staging's state under ``--env prod``: exit 1, both environments named,
    and the deliberate way out."""
    assert result.code == EXIT_ERROR, result
    assert "belongs to environment staging" in result.stderr, result
    assert "now uses environment prod" in result.stderr, result
    assert "reconciler state rebind" in result.stderr, result


@pytest.fixture
def local(tmp_path: Path) -> Project:
    project = Project(tmp_path / "project")
    project.settings(SHARED.format(staging="state/staging.json", prod="state/prod.json"))
    return project


def test_apply_records_the_environment_in_the_state(local: Project) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    state = local.state("--env", "staging")
    assert (state["version"], state["environment"]) == (3, "staging")
    assert (state["app_id"], state["engine"]) == (SANDBOX_APP_ID, "sandbox")


@pytest.mark.parametrize("command", READ_ONLY + WRITING, ids=" ".join)
def test_prod_refuses_the_local_state_of_staging_on_the_same_app_id_and_engine(
    local: Project, command: tuple[str, ...]
) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    local.settings(SHARED.format(staging="state/staging.json", prod="state/staging.json"))
    recorded = (local.dir / "state" / "staging.json").read_bytes()
    assert_refused_as_staging(local.run("--env", "prod", *command))
    assert (local.dir / "state" / "staging.json").read_bytes() == recorded  # nothing written


def test_a_state_without_environment_takes_its_name_at_its_next_write(local: Project) -> None:
    """A project without environments applies; then it declares staging (its App ID and
    state) and prod: staging reads the state, writes nothing until it changes something, then
    records its name; no agent is restarted; prod pointed at that state is then refused."""
    local.settings("engine: sandbox\nstate: state/agents.json\n")
    local.ok("apply", "--auto-approve")
    assert local.state()["environment"] is None
    running = local.agent_ids()
    local.settings(SHARED.format(staging="state/agents.json", prod="state/prod.json"))
    recorded = (local.dir / "state" / "agents.json").read_bytes()

    assert "No changes" in local.ok("--env", "staging", "plan").stdout
    assert (local.dir / "state" / "agents.json").read_bytes() == recorded  # read-only

    local.add("gamma")
    local.ok("--env", "staging", "apply", "--auto-approve")
    state = local.state("--env", "staging")
    assert state["environment"] == "staging"
    assert {n: local.agent_ids("--env", "staging")[n] for n in running} == running

    local.settings(SHARED.format(staging="state/agents.json", prod="state/agents.json"))
    assert_refused_as_staging(local.run("--env", "prod", "plan"))


def test_a_project_without_environments_neither_checks_nor_erases_the_name(
    local: Project,
) -> None:
    """Dropping environments is not refused (there is no name to compare), and the state keeps
    the name it records for when they come back."""
    local.ok("--env", "staging", "apply", "--auto-approve")
    local.settings("engine: sandbox\nstate: state/staging.json\n")
    local.add("gamma")
    local.ok("apply", "--auto-approve")
    assert local.state()["environment"] == "staging"


def test_state_rebind_moves_a_state_to_another_environment_on_purpose(local: Project) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    running = local.agent_ids("--env", "staging")
    local.settings(SHARED.format(staging="state/staging.json", prod="state/staging.json"))
    result = local.ok("--env", "prod", "state", "rebind")
    assert "environment staging" in result.stderr and "environment prod" in result.stderr
    assert local.state("--env", "prod")["environment"] == "prod"
    assert "No changes" in local.ok("--env", "prod", "plan").stdout
    assert local.agent_ids("--env", "prod") == running
    refused = local.run("--env", "staging", "plan")
    assert refused.code == EXIT_ERROR and "belongs to environment prod" in refused.stderr


PG_SHARED = """\
engine: sandbox
state: ${{STATE_URL}}
environments:
  staging:
    state_key: {staging}
  prod:
    state_key: {prod}
"""


@pytest.fixture
def database(tmp_path: Path, pg_url: str) -> Project:
    project = Project(tmp_path / "project", pg_url)
    project.settings(PG_SHARED.format(staging="staging", prod="prod"))
    return project


@pytest.mark.parametrize("command", READ_ONLY + WRITING, ids=" ".join)
def test_prod_refuses_the_database_state_of_staging_on_the_same_app_id_and_engine(
    database: Project, command: tuple[str, ...]
) -> None:
    database.ok("--env", "staging", "apply", "--auto-approve")
    before = database.state("--env", "staging")
    assert before["environment"] == "staging"
    database.settings(PG_SHARED.format(staging="staging", prod="staging"))
    assert_refused_as_staging(database.run("--env", "prod", *command))
    database.settings(PG_SHARED.format(staging="staging", prod="prod"))
    assert database.state("--env", "staging") == before  # nothing written


def test_state_rebind_moves_a_database_state_to_another_environment(database: Project) -> None:
    database.ok("--env", "staging", "apply", "--auto-approve")
    database.settings(PG_SHARED.format(staging="staging", prod="staging"))
    database.ok("--env", "prod", "state", "rebind")
    assert database.state("--env", "prod")["environment"] == "prod"
    assert "No changes" in database.ok("--env", "prod", "plan").stdout


def test_state_push_refuses_a_state_of_staging_into_prod_even_with_force(local: Project) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    pulled = local.dir / "staging-copy.json"
    local.ok("--env", "staging", "state", "pull", "--out", str(pulled))
    result = local.run("--env", "prod", "state", "push", str(pulled), "--force")
    assert result.code == EXIT_ERROR, result
    assert "belongs to environment staging" in result.stderr, result
    assert "now uses environment prod" in result.stderr, result
    assert "reconciler --env prod state push --rebind" in result.stderr, result
    assert not (local.dir / "state" / "prod.json").exists()


def test_state_push_refusal_names_the_way_to_give_the_state_to_another_environment(
    local: Project,
) -> None:
    """The refusal's remedy must work: `state rebind --env prod` acts on prod's own state, which
    does not hold the pushed file, so the way out is `state push --rebind`."""
    local.ok("--env", "staging", "apply", "--auto-approve")
    pulled = local.dir / "staging-copy.json"
    local.ok("--env", "staging", "state", "pull", "--out", str(pulled))
    result = local.run("--env", "prod", "state", "push", str(pulled))
    assert result.code == EXIT_ERROR, result
    assert "belongs to environment staging" in result.stderr, result
    assert "state push --rebind" in result.stderr, result
    assert not (local.dir / "state" / "prod.json").exists()


def test_state_push_rebind_moves_a_state_into_another_environment(local: Project) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    running = local.agent_ids("--env", "staging")
    pulled = local.dir / "staging-copy.json"
    local.ok("--env", "staging", "state", "pull", "--out", str(pulled))
    result = local.ok("--env", "prod", "state", "push", "--rebind", str(pulled))
    assert "environment staging" in result.stderr and "environment prod" in result.stderr
    assert "both environments now manage them" in result.stderr, result  # one App ID
    state = local.state("--env", "prod")
    assert (state["environment"], state["app_id"]) == ("prod", SANDBOX_APP_ID)
    assert local.agent_ids("--env", "prod") == running
    assert "No changes" in local.ok("--env", "prod", "plan").stdout


def test_state_push_rebind_still_refuses_another_lineage_without_force(local: Project) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    local.ok("--env", "prod", "apply", "--auto-approve")
    prod_before = local.state("--env", "prod")
    pulled = local.dir / "staging-copy.json"
    local.ok("--env", "staging", "state", "pull", "--out", str(pulled))
    result = local.run("--env", "prod", "state", "push", "--rebind", str(pulled))
    assert result.code == EXIT_ERROR and "another lineage" in result.stderr, result
    assert local.state("--env", "prod") == prod_before


def test_state_push_rebind_moves_a_database_state_into_another_environment(
    database: Project,
) -> None:
    database.ok("--env", "staging", "apply", "--auto-approve")
    pulled = database.dir / "staging-copy.json"
    database.ok("--env", "staging", "state", "pull", "--out", str(pulled))
    assert database.run("--env", "prod", "state", "push", str(pulled)).code == EXIT_ERROR
    database.ok("--env", "prod", "state", "push", "--rebind", str(pulled))
    assert database.state("--env", "prod")["environment"] == "prod"
    assert "No changes" in database.ok("--env", "prod", "plan").stdout


def test_import_refuses_an_agent_another_environment_started_on_the_same_app_id(
    local: Project,
) -> None:
    """On one App ID, prod's import of staging's running agent would make prod's apply and
    destroy act on it: the engine names the agent with staging's state tag, so it is refused."""
    local.ok("--env", "staging", "apply", "--auto-approve")
    staging = local.agent_ids("--env", "staging")
    local.ok("--env", "prod", "state", "list")
    result = local.run("--env", "prod", "import", "alpha", staging["alpha"])
    assert result.code == EXIT_ERROR, result
    assert "another state" in result.stderr, result
    assert "--force" in result.stderr, result
    assert not (local.dir / "state" / "prod.json").exists() or not local.agent_ids("--env", "prod")
    local.ok("--env", "prod", "destroy", "--auto-approve")
    assert local.agent_ids("--env", "staging") == staging
    assert "No changes" in local.ok("--env", "staging", "plan").stdout


def test_import_force_takes_an_agent_another_state_started(local: Project) -> None:
    local.ok("--env", "staging", "apply", "--auto-approve")
    staging = local.agent_ids("--env", "staging")
    local.ok("--env", "staging", "state", "rm", "alpha", "--force")
    local.ok("--env", "prod", "import", "--force", "alpha", staging["alpha"])
    assert local.agent_ids("--env", "prod")["alpha"] == staging["alpha"]


def test_an_import_entry_refuses_an_agent_another_environment_started_on_the_same_app_id(
    local: Project,
) -> None:
    """The `import:` entry is import in review: it must refuse what `import` refuses."""
    local.ok("--env", "staging", "apply", "--auto-approve")
    staging = local.agent_ids("--env", "staging")
    with (local.dir / "agents.d" / "alpha.yaml").open("a", encoding="utf-8") as manifest:
        manifest.write(f"import: {staging['alpha']}\n")
    for command in (("plan",), ("apply", "--auto-approve")):
        result = local.run("--env", "prod", *command)
        assert result.code == EXIT_ERROR, result
        assert "agents.d/alpha.yaml:" in result.stderr and "another state" in result.stderr
    assert not (local.dir / "state" / "prod.json").exists() or "alpha" not in local.agent_ids(
        "--env", "prod"
    )
    assert "No changes" in local.ok("--env", "staging", "plan").stdout
