"""The CLI's choice of environment, and ``validate`` across every environment at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.inproc import run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example project as committed: staging and prod on the embedded sandbox."""
    shutil.copy(ROOT / "reconciler.yaml", tmp_path / "reconciler.yaml")
    shutil.copytree(ROOT / "agents.d", tmp_path / "agents.d")
    return tmp_path


def test_validate_checks_every_environment(example: Path) -> None:
    result = run_cli("-C", str(example), "validate")
    assert result.code == 0, result
    assert result.stdout.splitlines() == [
        "3 agents and 3 resources valid in staging",
        "3 agents and 3 resources valid in prod",
    ]


def _break_both_environments_and_prod(example: Path) -> None:
    """An invalid ``idle_timeout`` in every environment (concierge.yaml, -2) and one in prod
    only (an override of sales-en.yaml, -1)."""
    sales = example / "agents.d" / "sales-en.yaml"
    with sales.open("a", encoding="utf-8") as manifest:
        manifest.write("overrides:\n  prod:\n    properties:\n      idle_timeout: -1\n")
    concierge = example / "agents.d" / "concierge.yaml"
    concierge.write_text(
        concierge.read_text(encoding="utf-8").replace("idle_timeout: 0", "idle_timeout: -2"),
        encoding="utf-8",
    )


def test_validate_reports_a_problem_of_every_environment_once_and_one_of_some_tagged(
    example: Path,
) -> None:
    _break_both_environments_and_prod(example)
    result = run_cli("-C", str(example), "validate")
    assert result.code == 1
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert any(line.startswith("agents.d/sales-en.yaml:") and "[prod] " in line for line in lines)
    support_lines = [line for line in lines if line.startswith("agents.d/concierge.yaml")]
    assert len(support_lines) == 1 and "[" not in support_lines[0]
    only_prod = run_cli("-C", str(example), "--env", "staging", "validate")
    assert only_prod.code == 1 and "sales-en" not in only_prod.stderr


def test_validate_of_every_environment_shows_each_problem_with_its_excerpt(
    example: Path,
) -> None:
    _break_both_environments_and_prod(example)
    result = run_cli("-C", str(example), "validate")
    assert result.code == 1
    lines = result.stderr.splitlines()
    for file, value in (("concierge.yaml", "-2"), ("sales-en.yaml", "-1")):
        at = next(i for i, line in enumerate(lines) if f"agents.d/{file}:" in line)
        assert lines[at + 1].strip() == "|"
        assert lines[at + 2].rstrip().endswith(f"idle_timeout: {value}")
        assert lines[at + 3].strip().endswith("^")


def test_plan_of_every_environment_reports_every_environments_problems_at_once(
    example: Path,
) -> None:
    _break_both_environments_and_prod(example)
    result = run_cli("-C", str(example), "plan", "--env", "all")
    assert result.code == 1
    lines = [line.strip() for line in result.stderr.splitlines() if "agents.d/" in line]
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("agents.d/concierge.yaml:") and "[" not in lines[0]
    assert lines[1].startswith("agents.d/sales-en.yaml:") and "[prod] " in lines[1]
    assert "idle_timeout: -1" in result.stderr  # each with its excerpt
    assert not (example / "state").exists()


def test_env_all_is_refused_by_a_command_that_works_on_one_environment(example: Path) -> None:
    result = run_cli("-C", str(example), "--env", "all", "apply", "--auto-approve")
    assert result.code == 1
    assert "--env all is for plan and validate" in result.stderr
    assert not (example / "state").exists()


def test_a_saved_plan_covers_one_environment(example: Path, tmp_path: Path) -> None:
    result = run_cli("-C", str(example), "plan", "--env", "all", "--out", str(tmp_path / "p"))
    assert result.code == 1 and "a saved plan covers one environment" in result.stderr
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("refresh", [(), ("--no-refresh",)], ids=["refresh", "no-refresh"])
def test_plan_all_holds_each_environment_s_plan_as_planning_it_alone_gives(
    example: Path, refresh: tuple[str, ...]
) -> None:
    """Every environment's manifests read once, what they share loaded once: each plan is still
    the one ``--env NAME`` makes (staging sets another model for sales-en, prod a higher cap)."""
    for name in ("staging", "prod"):
        assert run_cli("-C", str(example), "--env", name, "apply", "--auto-approve").code == 0
    (example / "agents.d" / "concierge.yaml").write_text(
        (example / "agents.d" / "concierge.yaml")
        .read_text(encoding="utf-8")
        .replace("idle_timeout: 0", "idle_timeout: 9"),
        encoding="utf-8",
    )

    def plan_json(*args: str) -> Any:
        result = run_cli("-C", str(example), *args, "plan", *refresh, "--format", "json")
        assert result.code == 0, result
        document = json.loads(result.stdout)
        return document

    def without_time(plan: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in plan.items() if key != "created_at"}

    together = plan_json("--env", "all")
    assert [entry["name"] for entry in together["environments"]] == ["staging", "prod"]
    for entry in together["environments"]:
        alone = plan_json("--env", entry["name"])
        assert without_time(entry["plan"]) == without_time(alone)
    staging, prod = (entry["plan"] for entry in together["environments"])
    assert staging["has_changes"] and prod["has_changes"]
    assert staging["app_id"] != prod["app_id"] and staging["lineage"] != prod["lineage"]


def test_reconciler_env_chooses_the_environment(example: Path) -> None:
    result = run_cli("-C", str(example), "plan", "--no-refresh", env={"RECONCILER_ENV": "prod"})
    assert result.code == 0, result
    assert "Environment: prod; engine: sandbox (local emulator), app fedcba98" in result.stdout


def test_state_drift_and_destroy_work_on_the_chosen_environment_only(example: Path) -> None:
    def cli(*args: str) -> str:
        result = run_cli("-C", str(example), *args)
        assert result.code == 0, result
        return result.stdout

    def names(*args: str) -> list[str]:
        agents_table = cli(*args).split("\n\n")[0]  # the resources' table follows a blank line
        rows = [line.split()[0] for line in agents_table.splitlines() if line.strip()]
        return sorted(rows[1:] if rows[:1] == ["NAME"] else rows)  # below the table's header

    cli("--env", "staging", "apply", "--auto-approve")
    cli("--env", "prod", "apply", "--auto-approve")
    staging = names("--env", "staging", "state", "list")
    assert staging == ["concierge", "sales-en", "support-en"]
    assert names("state", "list", "--env", "prod") == staging
    drift = cli("--env", "prod", "drift")
    assert drift.startswith("Drift of environment prod: app fedcba9876543210fedcba9876543210")
    assert "No drift" in drift
    cli("--env", "staging", "destroy", "--auto-approve")
    assert names("--env", "staging", "state", "list") == []
    assert names("--env", "prod", "state", "list") == staging
    assert run_cli("-C", str(example), "plan", "--env", "all", "--detailed-exitcode").code == 2
    assert run_cli("-C", str(example), "--env", "prod", "plan", "--detailed-exitcode").code == 0


def test_a_state_of_staging_used_by_prod_is_refused(example: Path) -> None:
    """prod's settings pointed at staging's state by mistake: the state records staging's App
    ID, so every command of prod refuses it and writes nothing."""
    assert run_cli("-C", str(example), "--env", "staging", "apply", "--auto-approve").code == 0
    settings = example / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(
        text.replace("state: state/prod.json", "state: state/staging.json"), encoding="utf-8"
    )
    recorded = (example / "state" / "staging.json").read_bytes()
    for command in (("plan",), ("apply", "--auto-approve"), ("drift",), ("state", "list")):
        result = run_cli("-C", str(example), "--env", "prod", *command)
        assert result.code != 0, result
        assert "belongs to environment staging (App ID 0123456789abcdef0123456789abcdef" in (
            result.stderr
        ), result
    assert (example / "state" / "staging.json").read_bytes() == recorded


def test_plan_all_leaves_out_what_exclude_names_in_every_environment(
    example: Path, tmp_path: Path
) -> None:
    """``--exclude`` means in ``plan --env all`` what it means in ``plan --env NAME``: the
    excluded agent is neither shown nor saved for apply, in any environment."""
    result = run_cli(
        "-C", str(example), "plan", "--env", "all", "--exclude", "sales-en", "--format", "json"
    )
    assert result.code == 0, result
    for entry in json.loads(result.stdout)["environments"]:
        assert entry["plan"]["excluded"] == ["sales-en"]
        assert "sales-en" not in [agent["name"] for agent in entry["plan"]["agents"]]
    out = str(tmp_path / "plans" / "{env}.plan")
    saved = run_cli(
        "-C", str(example), "plan", "--env", "all", "--exclude", "sales-en", "--out", out
    )
    assert saved.code == 0, saved
    shown = run_cli("-C", str(example), "show", str(tmp_path / "plans" / "prod.plan"))
    assert "Excluded: sales-en (--exclude)" in shown.stdout
    assert "+ sales-en" not in shown.stdout and "+ concierge" in shown.stdout


def test_plan_all_shows_the_other_environments_when_one_cannot_be_planned(
    example: Path, tmp_path: Path
) -> None:
    """A manifest invalid in prod only: staging's plan is still shown, prod's section says why
    it could not be planned, the command fails (exit 1) and saves no plan."""
    sales = example / "agents.d" / "sales-en.yaml"
    with sales.open("a", encoding="utf-8") as manifest:
        manifest.write("overrides:\n  prod:\n    properties:\n      idle_timeout: -1\n")
    out = str(tmp_path / "plans" / "{env}.plan")
    result = run_cli("-C", str(example), "plan", "--env", "all", "--out", out)
    assert result.code == 1, result
    staging, prod = result.stdout.split("== Environment prod ==")
    assert "+ sales-en" in staging
    assert prod.lstrip().startswith("Error: environment prod could not be planned:")
    assert "agents.d/sales-en.yaml:" in prod and "idle_timeout: -1" in prod
    assert "Error: environment prod could not be planned" in result.stderr
    assert not (tmp_path / "plans").exists()
    document = run_cli("-C", str(example), "plan", "--env", "all", "--format", "json")
    assert document.code == 1
    entries = json.loads(document.stdout)["environments"]
    assert entries[0]["plan"]["environment"] == "staging" and "sales-en.yaml" in entries[1]["error"]


def test_plan_all_refuses_a_max_chars_too_small_for_every_environment_as_a_usage_error(
    example: Path,
) -> None:
    result = run_cli(
        "-C", str(example), "plan", "--env", "all", "--format", "markdown", "--max-chars", "2000"
    )
    assert result.code == 1
    assert "--max-chars 2000 is too small for the comment of 2 environments" in result.stderr
    assert "Internal error" not in result.stderr and result.stdout == ""


def test_the_comment_names_the_first_problem_of_an_environment_that_cannot_be_planned(
    example: Path,
) -> None:
    sales = example / "agents.d" / "sales-en.yaml"
    with sales.open("a", encoding="utf-8") as manifest:
        manifest.write("overrides:\n  prod:\n    properties:\n      idle_timeout: -1\n")
    result = run_cli("-C", str(example), "plan", "--env", "all", "--format", "markdown")
    assert result.code == 1
    head = result.stdout.split("<details>")[0]
    assert "> - **prod** could not be planned: 1 problem in agents.d: agents.d/sales-en.yaml:" in (
        head
    )
    assert "| **prod** | ⛔ could not be planned |" in head


def test_plan_all_takes_compact_and_verbose_as_plan_of_one_environment_does(
    example: Path,
) -> None:
    def text(*args: str) -> str:
        result = run_cli("-C", str(example), *args)
        assert result.code == 0, result
        return result.stdout

    for name in ("staging", "prod"):
        alone = text("--env", name, "plan", "--no-refresh", "--compact")
        together = text("plan", "--env", "all", "--no-refresh", "--compact")
        section = together.split(f"== Environment {name} ==\n\n")[1].split("\n\n== Environment")[0]
        assert section.rstrip("\n") == alone.rstrip("\n")
        assert "summarised" in section
    verbose = text("-v", "plan", "--env", "all", "--no-refresh")
    assert verbose.count("properties.enable_string_uid") > 0  # the engine's defaults listed


def test_plan_all_shows_the_other_environments_when_the_settings_of_one_cannot_be_read(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variable prod's settings read is unset (its secrets not given to this job): staging is
    still planned and shown, prod is shown with its settings problem, the command fails; the
    comment says so (a pull request gets a comment, never none)."""
    monkeypatch.delenv("PROD_ONLY_APP_ID", raising=False)
    settings = example / "reconciler.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace(
            "app_id: ${AGORA_APP_ID:-fedcba9876543210fedcba9876543210}",
            "app_id: ${PROD_ONLY_APP_ID}",
        ),
        encoding="utf-8",
    )
    result = run_cli("-C", str(example), "plan", "--env", "all", "--format", "markdown")
    assert result.code == 1, result
    head = result.stdout.split("<details>")[0]
    assert result.stdout.startswith("<!-- reconciler-plan:environments:staging,prod -->")
    assert "| **staging** | `0123456789abcdef0123456789abcdef` |" in head
    assert "> - **prod** could not be planned: 1 problem in settings:" in head
    assert "PROD_ONLY_APP_ID" in result.stdout and "PROD_ONLY_APP_ID" in result.stderr


def test_plan_all_reports_a_settings_problem_of_one_environment_tagged_as_validate_does(
    example: Path,
) -> None:
    settings = example / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("max_concurrent_agents: 50", "max_concurrent_agents: -5"))
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("state: state/staging.json", "state: state/\n"))
    validate = run_cli("-C", str(example), "validate")
    plan = run_cli("-C", str(example), "plan", "--env", "all")
    assert validate.code == plan.code == 1, (validate, plan)
    problems = [line for line in plan.stderr.splitlines() if "reconciler.yaml:" in line]
    assert problems == [line for line in validate.stderr.splitlines() if "reconciler.yaml:" in line]
    assert len(problems) == 2 and "[staging] state:" in problems[0], problems
    assert "[prod] max_concurrent_agents: must be >= 1" in problems[1], problems
