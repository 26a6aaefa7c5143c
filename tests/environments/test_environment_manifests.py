"""Per-environment manifests: ``environments:`` (where a manifest exists) and ``overrides:``
(what differs there), merged like ``extends:`` (maps merge, lists and scalars replace, null
removes), on the raw document before it is validated; problems name their environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.manifests.manifest_helpers import Project

ENVIRONMENTS = {"environments": ("staging", "prod")}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def _in(environment: str) -> dict[str, object]:
    return {**ENVIRONMENTS, "environment": environment}


def test_a_manifest_exists_only_in_the_environments_it_names(project: Project) -> None:
    project.agent("a.yaml", "everywhere")
    project.agent("b.yaml", "prod-only", extra="environments: [prod]\n")
    assert set(project.load(**_in("staging")).agents) == {"everywhere"}
    assert set(project.load(**_in("prod")).agents) == {"everywhere", "prod-only"}


def test_overrides_merge_maps_replace_lists_and_scalars_and_null_removes(
    project: Project,
) -> None:
    project.agent(
        "a.yaml",
        "support",
        props="""\
        idle_timeout: 30
        labels: {team: support, tier: gold}
        """,
    )
    with (project.root / "agents.d" / "a.yaml").open("a", encoding="utf-8") as manifest:
        manifest.write(
            "overrides:\n"
            "  staging:\n"
            "    properties:\n"
            "      idle_timeout: 5\n"
            "      remote_rtc_uids: ['*']\n"
            "      labels: {tier: null, stage: 'yes'}\n"
            "      llm: {params: {model: gpt-4.1-nano}}\n"
        )
    staging = project.load(**_in("staging")).agents["support"].spec["properties"]
    prod = project.load(**_in("prod")).agents["support"].spec["properties"]
    assert staging["idle_timeout"] == 5 and prod["idle_timeout"] == 30
    assert staging["remote_rtc_uids"] == ["*"] and prod["remote_rtc_uids"] == ["1002"]
    assert staging["labels"] == {"team": "support", "stage": "yes"}
    assert prod["labels"] == {"team": "support", "tier": "gold"}
    assert staging["llm"]["params"] == {"model": "gpt-4.1-nano"}
    assert staging["llm"]["url"] == prod["llm"]["url"]


def test_overrides_of_a_partial_merge_with_the_manifest_s_own(project: Project) -> None:
    project.write(
        "agents.d/_base.yaml",
        """\
        properties:
          idle_timeout: 30
        overrides:
          staging:
            properties: {idle_timeout: 5}
        """,
    )
    project.agent(
        "a.yaml",
        "support",
        extra="extends: _base.yaml\noverrides:\n  staging:\n    properties: {labels: {s: '1'}}\n",
    )
    staging = project.load(**_in("staging")).agents["support"].spec["properties"]
    assert staging["idle_timeout"] == 5 and staging["labels"] == {"s": "1"}


def test_a_problem_in_an_override_is_reported_at_its_line_with_its_environment(
    project: Project,
) -> None:
    path = project.agent("a.yaml", "support")
    with path.open("a", encoding="utf-8") as manifest:
        manifest.write("overrides:\n  prod:\n    properties:\n      idle_timeout: -1\n")
    line = path.read_text(encoding="utf-8").splitlines().index("      idle_timeout: -1") + 1
    found = project.errors(**_in("prod"))
    assert len(found) == 1 and found[0].startswith(f"agents.d/a.yaml:{line}: [prod] ")
    assert "idle_timeout" in found[0]
    assert "support" in project.load(**_in("staging")).agents


def test_an_undeclared_environment_in_a_manifest_is_a_problem(project: Project) -> None:
    project.agent("a.yaml", "support", extra="environments: [prod, qa]\n")
    project.agent("b.yaml", "sales", extra="overrides:\n  stage:\n    protect: true\n")
    found = project.errors(**_in("prod"))
    assert found == [
        "agents.d/a.yaml:2: [prod] environments: no environment 'qa' (declared: staging, prod)",
        "agents.d/b.yaml:3: [prod] overrides: no environment 'stage' (declared: staging, prod)",
    ]


def test_an_override_may_not_rename_or_move_the_manifest(project: Project) -> None:
    project.agent("a.yaml", "support", extra="overrides:\n  prod:\n    name: other\n")
    assert project.errors(**_in("prod")) == [
        "agents.d/a.yaml:4: [prod] overrides.prod cannot set 'name'"
    ]


def test_a_project_without_environments_refuses_per_environment_keys(project: Project) -> None:
    project.agent("a.yaml", "support", extra="environments: [prod]\n")
    found = project.errors()
    assert len(found) == 1 and found[0].startswith("agents.d/a.yaml:2: environments: ")
    assert "declares no environments" in found[0]


def test_the_same_name_in_two_environments_is_no_duplicate(project: Project) -> None:
    project.agent("a.yaml", "desk", extra="environments: [staging]\n")
    project.agent("b.yaml", "desk", extra="environments: [prod]\n", props="labels: {p: '1'}\n")
    assert project.load(**_in("staging")).agents["desk"].path == "agents.d/a.yaml"
    assert project.load(**_in("prod")).agents["desk"].path == "agents.d/b.yaml"


def test_an_environment_listed_twice_is_a_problem_at_its_second_place(project: Project) -> None:
    project.agent("a.yaml", "support", extra="environments:\n  - prod\n  - staging\n  - prod\n")
    assert project.errors(**_in("prod")) == [
        "agents.d/a.yaml:5: [prod] environments: 'prod' is listed twice (first at line 3)"
    ]


def test_an_override_may_not_choose_another_partial(project: Project) -> None:
    """``extends:`` is resolved before the environment is chosen: an override's was ignored."""
    project.agent("a.yaml", "support", extra="overrides:\n  prod:\n    extends: _base/x.yaml\n")
    assert project.errors(**_in("prod")) == [
        "agents.d/a.yaml:4: [prod] overrides.prod cannot set 'extends'"
    ]
