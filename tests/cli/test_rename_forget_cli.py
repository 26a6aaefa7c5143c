"""``renamed_from`` and ``lifecycle.on_delete: forget`` through the CLI, saved plans included."""

from __future__ import annotations

from tests.cli.ops_project import OpsProject


def _insert_after_name(project: OpsProject, name: str, line: str) -> None:
    path = project.dir / "agents.d" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"name: {name}\n", f"name: {name}\n{line}\n", 1), "utf-8")


def test_a_saved_plan_renames_the_agent_and_keeps_it_running(project: OpsProject) -> None:
    project.ok("apply", "--auto-approve")
    agent_id = project.agent_id("sales-en")
    old = project.dir / "agents.d" / "sales-en.yaml"
    text = old.read_text(encoding="utf-8").replace("name: sales-en\n", "name: sales\n", 1)
    (project.dir / "agents.d" / "sales.yaml").write_text(
        text.replace("name: sales\n", "name: sales\nrenamed_from: sales-en\n", 1), "utf-8"
    )
    old.unlink()
    shown = project.ok("plan", "--out", str(project.dir / "rename.plan"))
    assert "sales-en -> sales (renamed, no restart)" in shown.stdout
    applied = project.ok("apply", str(project.dir / "rename.plan"))
    assert "1 renamed" in applied.stdout
    assert "sales-en" not in project.state()["agents"]
    assert project.agent_id("sales") == agent_id
    assert project.status(agent_id) == "RUNNING"


def test_a_saved_plan_forgets_a_removed_agent_and_leaves_it_running(
    project: OpsProject,
) -> None:
    _insert_after_name(project, "sales-en", "lifecycle: {on_delete: forget}")
    project.ok("apply", "--auto-approve")
    agent_id = project.agent_id("sales-en")
    (project.dir / "agents.d" / "sales-en.yaml").unlink()
    shown = project.ok("plan", "--out", str(project.dir / "forget.plan"))
    assert "sales-en will be forgotten (keeps running, no longer managed)" in shown.stdout
    applied = project.ok("apply", str(project.dir / "forget.plan"))
    assert "1 forgotten" in applied.stdout
    assert "sales-en" not in project.state()["agents"]
    assert project.status(agent_id) == "RUNNING"


def test_a_saved_plan_keeps_a_new_agent_meant_to_be_stopped_unstarted(
    project: OpsProject,
) -> None:
    _insert_after_name(project, "sales-en", "desired: stopped")
    project.ok("plan", "--out", str(project.dir / "first.plan"))
    project.ok("apply", str(project.dir / "first.plan"))
    assert sorted(project.state()["agents"]) == ["concierge", "support-en"]
