"""`reconciler init`: a new project that validates, plans and applies as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.manifests import manifest_schema
from reconciler.project.scaffold import ACTION_PLACEHOLDER, render_workflow, scaffold

REPO = Path(__file__).resolve().parents[2]
PINNED = "example-org/reconciler@v0.1.0"
WORKFLOWS = (
    ".github/workflows/reconciler-plan.yml",
    ".github/workflows/reconciler-apply.yml",
    ".github/workflows/reconciler-drift.yml",
)


def _reconciler(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGORA_", "RECONCILER_"))}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_init_in_an_empty_directory_gives_a_project_that_plans_and_applies_unedited(
    tmp_path: Path,
) -> None:
    created = _reconciler("init", "agents-repo", "--action", PINNED, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "agents-repo"
    for path in (
        "reconciler.yaml",
        "agents.d/assistant.yaml",
        "agents.d/manifest.schema.json",
        ".gitignore",
        ".github/workflows/reconciler-plan.yml",
        ".github/workflows/reconciler-apply.yml",
        ".github/workflows/reconciler-drift.yml",
    ):
        assert (project / path).is_file(), path
        assert f"created  {path}" in created.stdout

    assert _reconciler("validate", cwd=project).stdout == (
        "1 agent valid in staging\n1 agent valid in production\n"
    )
    plan = _reconciler("plan", "--env", "all", "--detailed-exitcode", cwd=project)
    assert plan.returncode == 2, plan.stderr
    assert plan.stdout.count("Plan: 1 to start; 0 unchanged.") == 4  # head and foot of each
    for environment in ("staging", "production"):
        applied = _reconciler("--env", environment, "apply", "--auto-approve", cwd=project)
        assert applied.returncode == 0, applied.stderr
    again = _reconciler("plan", "--env", "all", "--detailed-exitcode", cwd=project)
    assert again.returncode == 0, again.stdout


def test_init_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "agents.d").mkdir()
    mine = tmp_path / "reconciler.yaml"
    mine.write_text("engine: us\n")
    result = _reconciler("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mine.read_text() == "engine: us\n"
    assert "kept     reconciler.yaml (exists, not changed)" in result.stdout
    assert (tmp_path / "agents.d" / "assistant.yaml").is_file()
    again = _reconciler("init", cwd=tmp_path)
    assert again.returncode == 0
    assert "created" not in again.stdout


def test_init_refuses_a_target_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    result = _reconciler("init", "x", cwd=tmp_path)
    assert result.returncode == 1
    assert "exists and is not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_writes_the_schema_the_example_manifest_points_at(tmp_path: Path) -> None:
    scaffold(tmp_path)
    manifest = (tmp_path / "agents.d" / "assistant.yaml").read_text()
    assert manifest.splitlines()[0] == "# yaml-language-server: $schema=manifest.schema.json"
    schema = json.loads((tmp_path / "agents.d" / "manifest.schema.json").read_text())
    assert schema == manifest_schema()
    assert schema["$id"] == "urn:reconciler:schema:manifest:1"


def test_example_workflows_are_the_ones_init_writes_for_this_repository() -> None:
    """examples/github/ are this repository's own workflows: the action at the commit under
    review (``uses: ./``); init writes the same with the reference it is given."""
    examples = sorted((REPO / "examples" / "github").glob("*.yml"))
    assert [p.name for p in examples] == sorted(Path(w).name for w in WORKFLOWS)
    for example in examples:
        template = REPO / "reconciler" / "project" / "templates" / "github" / example.name
        assert example.read_text() == render_workflow(template.read_text(), "./")


def test_init_writes_workflows_that_use_the_pinned_action_and_install_nothing_by_name(
    tmp_path: Path,
) -> None:
    """Regression: the workflows used a placeholder ``your-org/reconciler@v1`` and the fork job
    ran ``pip install reconciler`` (whatever project holds that name on the index)."""
    scaffold(tmp_path, PINNED)
    for workflow in WORKFLOWS:
        text = (tmp_path / workflow).read_text()
        uses = re.findall(r"^\s*(?:- )?uses: (\S+)", text, re.M)
        assert set(uses) - {"actions/checkout@v4"} == {PINNED}, workflow
        assert "pip install" not in text and "your-org" not in text, workflow
        assert ACTION_PLACEHOLDER not in text, workflow
        assert not re.search(r"^\s*#\s*- (name|run|uses):", text, re.M), "a commented-out step"
    plan = (tmp_path / WORKFLOWS[0]).read_text()
    fork_job = plan[plan.index("  validate-fork:") :]
    assert f"uses: {PINNED}" in fork_job and "command: validate" in fork_job


def test_init_without_a_known_action_skips_the_workflows_and_says_how_to_add_them(
    tmp_path: Path,
) -> None:
    # This test environment's reconciler is installed from a directory: no repository known.
    first = _reconciler("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    for workflow in WORKFLOWS:
        assert not (tmp_path / workflow).exists()
        assert (
            f"skipped  {workflow} (not written: name where the workflows get reconciler from, "
            "`reconciler init --action OWNER/REPO@REF`" in first.stdout
        )
    second = _reconciler("init", "--action", PINNED, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert all((tmp_path / workflow).is_file() for workflow in WORKFLOWS)
    assert "kept     reconciler.yaml (exists, not changed)" in second.stdout


@pytest.mark.parametrize("ref", ["your-org/reconciler", "reconciler==0.1.0", "a/b@v1; rm -rf /"])
def test_init_refuses_an_action_reference_that_cannot_work(tmp_path: Path, ref: str) -> None:
    result = _reconciler("init", "--action", ref, cwd=tmp_path)
    assert result.returncode == 1
    assert "expected OWNER/REPO@REF" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "reconciler.yaml").exists()


class _Installed:
    def __init__(self, direct_url: str | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return self.direct_url if name == "direct_url.json" else None


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (
            {
                "url": "https://github.com/example-org/reconciler.git",
                "vcs_info": {"vcs": "git", "commit_id": "a" * 40, "requested_revision": "v0.1.0"},
            },
            f"example-org/reconciler@{'a' * 40}",
        ),
        ({"url": "file:///src/reconciler", "dir_info": {"editable": True}}, None),
        ({"url": "https://gitlab.com/x/reconciler", "vcs_info": {"vcs": "git"}}, None),
        (None, None),  # from a package index: no direct_url.json
    ],
)
def test_init_pins_the_repository_and_commit_reconciler_was_installed_from(
    monkeypatch: pytest.MonkeyPatch, direct_url: dict[str, object] | None, expected: str | None
) -> None:
    from reconciler.project import scaffold as module

    text = None if direct_url is None else json.dumps(direct_url)
    monkeypatch.setattr(module.metadata, "distribution", lambda name: _Installed(text))
    assert module.installed_action_ref() == expected


def _next_commands(output: str) -> list[list[str]]:
    """The commands of init's ``Next:`` line, each as its arguments after ``reconciler``."""
    line = next(x for x in output.splitlines() if x.startswith("Next: "))
    return [part.split()[1:] for part in line.removeprefix("Next: ").split(" && ")]


def test_init_names_next_commands_that_run_as_printed_in_the_project_it_wrote(
    tmp_path: Path,
) -> None:
    created = _reconciler("init", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    steps = _next_commands(created.stdout)
    assert steps == [["validate"], ["plan", "--env", "all"], ["--env", "staging", "apply"]]
    for step in steps:
        args = [*step, "--auto-approve"] if step[-1] == "apply" else step
        result = _reconciler(*args, cwd=tmp_path)
        assert result.returncode == 0, (step, result.stderr)


def test_init_beside_kept_settings_without_environments_names_the_plain_commands(
    tmp_path: Path,
) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        f"engine: sandbox\napp_id: {'a' * 32}\napp_certificate: {'b' * 32}\n"
    )
    created = _reconciler("init", cwd=tmp_path)
    assert _next_commands(created.stdout) == [["validate"], ["plan"], ["apply"]]
    assert _reconciler("plan", cwd=tmp_path).returncode == 0
