"""``--exclude NAME`` (repeatable) on plan, apply and destroy: the negation of ``--target``."""

from __future__ import annotations

import json

from tests.cli.ops_project import OpsProject


def test_plan_exclude_leaves_the_named_agents_out(project: OpsProject) -> None:
    result = project.ok("plan", "--no-refresh", "--exclude", "sales-en", "--exclude", "concierge")
    assert "Plan: 1 to start; 0 unchanged." in result.stdout
    assert "+ support-en" in result.stdout
    assert "sales-en" not in result.stdout.replace("Excluded: concierge, sales-en", "")
    assert (
        "Excluded: concierge, sales-en (--exclude), with the resources that depend on them; "
        "left as they are." in result.stdout
    )


def test_apply_exclude_starts_the_others_and_records_only_them(project: OpsProject) -> None:
    project.ok("apply", "--auto-approve", "--exclude", "sales-en")
    assert sorted(project.state()["agents"]) == ["concierge", "support-en"]
    project.ok("apply", "--auto-approve")  # later, without --exclude: sales-en starts
    assert sorted(project.state()["agents"]) == ["concierge", "sales-en", "support-en"]


def test_destroy_exclude_keeps_the_named_agent_running(applied: OpsProject) -> None:
    kept = applied.agent_id("concierge")
    applied.ok("destroy", "--auto-approve", "--exclude", "concierge")
    assert list(applied.state()["agents"]) == ["concierge"]
    assert applied.status(kept) == "RUNNING"


def test_exclude_of_an_unknown_name_is_an_error(project: OpsProject) -> None:
    result = project.ok("plan", "--no-refresh", "--exclude", "sales-fr", code=1)
    assert "--exclude names no agent in the manifests or state: sales-fr" in result.stderr


def test_exclude_and_target_of_the_same_agent_is_an_error(project: OpsProject) -> None:
    result = project.ok(
        "plan", "--no-refresh", "--target", "sales-en", "--exclude", "sales-en", code=1
    )
    assert "sales-en: both excluded (--exclude) and asked for (--target/--replace)" in result.stderr


def test_plan_json_lists_the_excluded_agents(project: OpsProject) -> None:
    doc = json.loads(
        project.ok("plan", "--no-refresh", "--format", "json", "--exclude", "sales-en").stdout
    )
    assert doc["excluded"] == ["sales-en"]
    assert "sales-en" not in {a["name"] for a in doc["agents"]}


def test_a_misspelt_agent_name_suggests_the_one_it_may_mean(project: OpsProject) -> None:
    for flag in ("--target", "--exclude", "--replace"):
        result = project.ok("plan", "--no-refresh", flag, "suport-en", code=1)
        assert "suport-en (did you mean support-en?)" in result.stderr, flag


def test_an_empty_name_is_named_as_such(project: OpsProject) -> None:
    result = project.ok("plan", "--no-refresh", "--target", "", code=1)
    assert result.stderr.rstrip().endswith(
        "--target names no agent in the manifests or state: '' (an empty name)"
    )
