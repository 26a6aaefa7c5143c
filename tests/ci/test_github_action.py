"""The GitHub Action (``action.yml``) and the example workflows, checked as GitHub would run them.

The workflows are linted with actionlint (and the action's scripts with shellcheck); the
action's own shell steps are run here, in order, against the embedded sandbox, with a fake
``$GITHUB_STEP_SUMMARY``, ``$GITHUB_OUTPUT`` and ``$RUNNER_TEMP``. Steps that ``uses:`` another
action (setup-python, upload-artifact) and the install step (the tool is installed in this test
environment already) are GitHub's part and are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))
GITHUB_BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c")
"""How the GitHub runner runs a ``shell: bash`` step."""
LOCAL = {"require_database_state": "false"}
"""These runs keep the example project's local state file (the runner here is not thrown away)."""
_EXPR = re.compile(r"\$\{\{\s*(inputs|github)\.([\w-]+)\s*\}\}")


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs it)")
    return found


def _action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return loaded


def test_example_workflows_pass_actionlint() -> None:
    assert WORKFLOWS, "examples/github/ holds the example workflows"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflows_init_writes_pass_actionlint(tmp_path: Path) -> None:
    from reconciler.project.scaffold import scaffold

    scaffold(tmp_path, "example-org/reconciler@v0.1.0")
    written = sorted((tmp_path / ".github" / "workflows").glob("*.yml"))
    assert len(written) == 3
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [_tool("actionlint"), "-no-color", *map(str, written)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.nope.nope( }}\n        shell: fish\n"
    )
    result = subprocess.run([_tool("actionlint"), str(bad)], capture_output=True, check=False)
    assert result.returncode != 0


def test_action_shell_steps_pass_shellcheck() -> None:
    shellcheck = _tool("shellcheck")
    for step in _action()["runs"]["steps"]:
        if "run" in step:
            result = subprocess.run(
                [shellcheck, "-s", "bash", "-"], input=step["run"], capture_output=True, text=True
            )
            assert result.returncode == 0, f"{step['name']}:\n{result.stdout}"


def test_action_inputs_reach_the_shell_only_through_env() -> None:
    for step in _action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), f"{step['name']} pastes an expression into run"


class ActionRun:
    """Runs the action's shell steps the way the GitHub runner does (``bash -eo pipefail``)."""

    def __init__(self, runner: Path) -> None:
        self.runner = runner
        self.summary = runner / "summary.md"
        self.output = runner / "output.txt"
        self.temp = runner / "temp"
        self.temp.mkdir(parents=True, exist_ok=True)

    def __call__(self, **inputs: str) -> tuple[int, dict[str, str]]:
        action = _action()
        values = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
        values.update({k.replace("_", "-"): v for k, v in inputs.items()})
        self.output.write_text("")
        code = 0
        for step in action["runs"]["steps"]:
            if "run" not in step or step.get("id") == "install":
                continue
            env = {
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "GITHUB_STEP_SUMMARY": str(self.summary),
                "GITHUB_OUTPUT": str(self.output),
                "RUNNER_TEMP": str(self.temp),
                "NO_COLOR": "1",
            }
            for key, raw in step.get("env", {}).items():
                env[key] = _EXPR.sub(lambda m: values[m.group(2)], str(raw))
            code = subprocess.run(
                [*GITHUB_BASH, step["run"]], env=env, cwd=self.runner, check=False
            ).returncode
        outputs = dict(
            line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line
        )
        return code, outputs


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    shutil.copy(ROOT / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
    shutil.copytree(ROOT / "agents.d", directory / "agents.d")
    return directory


@pytest.mark.slow
def test_action_plans_then_applies_the_reviewed_plan_then_finds_no_changes(
    project: Path, tmp_path: Path
) -> None:
    run = ActionRun(tmp_path / "runner")

    code, out = run(command="plan", directory=str(project))
    assert code == 0
    assert out["exit_code"] == "2"
    assert out["has_changes"] == "true"
    saved = Path(out["plan_path"])
    assert saved.is_file()
    summary = run.summary.read_text()
    assert summary.startswith("<!-- reconciler-plan:")
    assert "**Plan: 3 to start; 0 unchanged. Resources: 3 to create; 0 unchanged.**" in summary
    assert Path(out["markdown_path"]).read_text() in summary

    reviewed = tmp_path / "reviewed.plan"
    shutil.copy(saved, reviewed)
    code, out = run(command="apply", directory=str(project), plan_file=str(reviewed), **LOCAL)
    assert code == 0, out
    assert out["exit_code"] == "0"
    assert out["has_changes"] == "true"

    code, out = run(command="plan", directory=str(project))
    assert (code, out["exit_code"], out["has_changes"]) == (0, "0", "false")

    # the reviewed plan is stale now: applying it again plans anew, finds nothing, succeeds
    code, out = run(command="apply", directory=str(project), plan_file=str(reviewed), **LOCAL)
    assert (code, out["exit_code"], out["has_changes"]) == (0, "0", "false")


@pytest.mark.slow
def test_action_fails_the_step_on_an_invalid_manifest_and_says_why(
    project: Path, tmp_path: Path
) -> None:
    (project / "agents.d" / "broken.yaml").write_text("name: Broken Name\nproperties: {}\n")
    code, out = ActionRun(tmp_path / "runner")(command="plan", directory=str(project))
    assert code == 1
    assert out["exit_code"] == "1"
    assert out["has_changes"] == "false"


def test_action_refuses_an_unknown_command(project: Path, tmp_path: Path) -> None:
    code, out = ActionRun(tmp_path / "runner")(command="destroy", directory=str(project))
    assert code == 1
    assert out["exit_code"] == "1"


@pytest.mark.slow
def test_action_drift_passes_on_a_project_that_runs_as_recorded(
    project: Path, tmp_path: Path
) -> None:
    run = ActionRun(tmp_path / "runner")
    code, out = run(command="plan", directory=str(project))
    code, out = run(command="apply", directory=str(project), plan_file=out["plan_path"], **LOCAL)
    assert code == 0
    code, out = run(command="drift", directory=str(project))
    assert (code, out["exit_code"], out["has_changes"]) == (0, "0", "false")
    assert Path(out["markdown_path"]).read_text().strip()


def test_action_refuses_to_apply_with_a_local_state_file_by_default(
    project: Path, tmp_path: Path
) -> None:
    """A CI job's files are lost when it ends: an apply there must write a shared state."""
    run = ActionRun(tmp_path / "runner")
    code, out = run(command="apply", directory=str(project))
    assert (code, out["exit_code"], out["has_changes"], out["plan_path"]) == (1, "1", "false", "")
    assert not (project / "state").exists()


def test_action_validates_without_secrets_for_a_fork(project: Path, tmp_path: Path) -> None:
    run = ActionRun(tmp_path / "runner")
    code, out = run(command="validate", directory=str(project))
    assert (code, out["exit_code"]) == (0, "0")
    (project / "agents.d" / "broken.yaml").write_text("name: Broken Name\nproperties: {}\n")
    code, out = run(command="validate", directory=str(project))
    assert (code, out["exit_code"]) == (1, "1")


@pytest.mark.slow
def test_action_plans_every_environment_then_promotes_staging_then_production(
    project: Path, tmp_path: Path
) -> None:
    shutil.copy(ROOT / "reconciler.yaml", project / "reconciler.yaml")  # staging and prod
    run = ActionRun(tmp_path / "runner")

    code, out = run(command="plan", environment="all", directory=str(project))
    assert (code, out["exit_code"], out["has_changes"]) == (0, "2", "true")
    plans = Path(out["plan_path"])
    assert sorted(p.name for p in plans.iterdir()) == ["prod.plan", "staging.plan"]
    comment = Path(out["markdown_path"]).read_text()
    assert comment.startswith("<!-- reconciler-plan:environments:staging,prod -->")
    assert comment.count("<summary><b>") == 2

    reviewed = tmp_path / "reviewed"
    shutil.copytree(plans, reviewed)
    code, out = run(
        command="apply", environment="staging", directory=str(project),
        plan_file=str(reviewed), **LOCAL,
    )  # fmt: skip
    assert (code, out["exit_code"], out["has_changes"]) == (0, "0", "true")
    assert not (project / "state" / "prod.json").exists()

    code, out = run(command="plan", environment="all", directory=str(project))
    assert (code, out["exit_code"]) == (0, "2")  # prod still to do
    code, out = run(
        command="apply", environment="prod", directory=str(project),
        plan_file=str(reviewed), **LOCAL,
    )  # fmt: skip
    assert (code, out["exit_code"], out["has_changes"]) == (0, "0", "true")
    code, out = run(command="plan", environment="all", directory=str(project))
    assert (code, out["exit_code"], out["has_changes"]) == (0, "0", "false")
    code, out = run(command="drift", environment="prod", directory=str(project))
    assert (code, out["exit_code"]) == (0, "0")


def test_action_writes_a_comment_saying_why_when_every_environment_fails_to_plan(
    project: Path, tmp_path: Path
) -> None:
    """Every environment failing is when a reviewer most needs the comment: it says, per
    environment, that the plan failed and why (masked: no secret of the run in it), so the
    workflow posts it (it skips an empty body)."""
    from tests.render.test_render_markdown_github import github_html, tags_of

    shutil.copy(ROOT / "reconciler.yaml", project / "reconciler.yaml")  # staging and prod
    state = project / "state"
    state.mkdir()
    (state / "staging.json").write_text("{not json")
    (state / "prod.json").write_text('{"version": 999}')
    secret = "sk-qa-every-env-fails-0123456789"
    os.environ["OPENAI_API_KEY"] = secret
    try:
        code, out = ActionRun(tmp_path / "runner")(
            command="plan", environment="all", directory=str(project)
        )
    finally:
        del os.environ["OPENAI_API_KEY"]
    assert (code, out["exit_code"], out["has_changes"]) == (1, "1", "false")
    comment = Path(out["markdown_path"]).read_text()
    assert comment.startswith("<!-- reconciler-plan:environments:staging,prod -->\n")
    assert "> **No environment could be planned:**" in comment
    assert "> - **staging** could not be planned:" in comment
    assert "> - **prod** could not be planned:" in comment
    assert "state/staging.json" in comment and "state/prod.json" in comment
    assert secret not in comment
    tags = tags_of(github_html(comment))
    assert tags.tags.count("details") == 2 and "table" in tags.tags
    assert comment in run_summary(tmp_path / "runner")


def run_summary(runner: Path) -> str:
    """What the action appended to the job's step summary."""
    return (runner / "summary.md").read_text()


def test_action_writes_a_comment_saying_why_when_the_plan_of_one_environment_fails(
    project: Path, tmp_path: Path
) -> None:
    """The same for a project of one environment: the comment, under the marker the plan's
    comment has (so the workflow updates it), says the plan could not be made and why."""
    from tests.render.test_render_markdown_github import github_html, tags_of

    state = project / "state"
    state.mkdir()
    (state / "agents.json").write_text("{not json")
    code, out = ActionRun(tmp_path / "runner")(command="plan", directory=str(project))
    assert (code, out["exit_code"], out["has_changes"]) == (1, "1", "false")
    comment = Path(out["markdown_path"]).read_text()
    assert comment.startswith("<!-- reconciler-plan:0123456789abcdef0123456789abcdef -->\n")
    assert "**The plan could not be made:**" in comment and "state/agents.json" in comment
    assert "pre" in tags_of(github_html(comment)).tags


def test_action_apply_whose_plan_fails_reports_no_changes_and_no_plan(
    project: Path, tmp_path: Path
) -> None:
    """The comment file says why the plan failed; the outputs still say nothing was planned
    or changed (a failure comment is no plan)."""
    state = project / "state"
    state.mkdir()
    (state / "agents.json").write_text("{not json")
    code, out = ActionRun(tmp_path / "runner")(command="apply", directory=str(project), **LOCAL)
    assert (code, out["exit_code"], out["has_changes"], out["plan_path"]) == (1, "1", "false", "")
    assert "**The plan could not be made:**" in Path(out["markdown_path"]).read_text()
