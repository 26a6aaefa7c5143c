"""``plan --env all`` reads ``agents.d/`` once for every environment: each file is parsed once,
and a document loads once for all environments that see it the same (same variables, same
settings, nothing per environment in it). Every environment still gets exactly what loading it
alone gives: its own overrides, its own variables (secrets), its own problems."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import loader
from reconciler.manifests.loader import load_desired
from reconciler.manifests.shared import SharedLoads
from reconciler.models import DesiredSet
from tests.manifests.manifest_helpers import Project

ENVIRONMENTS = ("staging", "prod")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def _load(
    project: Project,
    environment: str,
    shared: SharedLoads | None,
    environ: Mapping[str, str] | None = None,
) -> DesiredSet:
    settings = project.settings(environments=ENVIRONMENTS, environment=environment)
    return load_desired(settings, environ or {}, shared=shared)


def _errors(project: Project, environment: str, shared: SharedLoads | None, **kw: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        _load(project, environment, shared, **kw)
    return [str(problem) for problem in caught.value.problems]


def test_environments_that_see_a_manifest_alike_share_its_agent(project: Project) -> None:
    project.agent("a.yaml", "same")
    project.agent("b.yaml", "differs", extra="overrides:\n  prod:\n    protect: true\n")
    shared = SharedLoads(2)
    staging = _load(project, "staging", shared)
    prod = _load(project, "prod", shared)
    assert prod.agents["same"] is staging.agents["same"]
    assert prod.agents["differs"] is not staging.agents["differs"]
    assert prod.agents["differs"].protect and not staging.agents["differs"].protect
    assert staging == _load(project, "staging", None)
    assert prod == _load(project, "prod", None)


def test_each_manifest_file_is_parsed_once_for_every_environment_then_dropped(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.agent("a.yaml", "support")
    project.agent("b.yaml", "sales", extra="environments: [prod]\n")
    read = Counter[str]()
    original = loader.read_file

    def counting(path: Path, shown: str) -> Any:
        read[shown] += 1
        return original(path, shown)

    monkeypatch.setattr(loader, "read_file", counting)
    shared = SharedLoads(2)
    for environment in ENVIRONMENTS:
        _load(project, environment, shared)
    assert read == {"agents.d/a.yaml": 1, "agents.d/b.yaml": 1}
    _load(project, "staging", shared)  # a load more than announced: the trees are gone
    assert read == {"agents.d/a.yaml": 2, "agents.d/b.yaml": 2}


def test_an_environment_s_variables_are_its_own_never_another_s(project: Project) -> None:
    project.agent(
        "a.yaml", "support", extra="token: '${AGENT_TOKEN}'\n", props="labels: {team: '${TEAM}'}\n"
    )
    shared = SharedLoads(2)
    staging = _load(project, "staging", shared, {"TEAM": "blue", "AGENT_TOKEN": "tok-staging"})
    prod = _load(project, "prod", shared, {"TEAM": "red", "AGENT_TOKEN": "tok-prod"})
    for desired, team, token in ((staging, "blue", "tok-staging"), (prod, "red", "tok-prod")):
        agent = desired.agents["support"]
        assert agent.spec["properties"]["labels"] == {"team": team}
        assert agent.spec["properties"]["token"] == token
        assert agent.secrets == {team, token}


def test_a_partial_with_overrides_is_merged_for_each_environment(project: Project) -> None:
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
    project.agent("a.yaml", "support", extra="extends: _base.yaml\n")
    shared = SharedLoads(3)
    for environment, idle in (("prod", 30), ("staging", 5), ("prod", 30)):
        agent = _load(project, environment, shared).agents["support"]
        assert agent.spec["properties"]["idle_timeout"] == idle


@pytest.mark.parametrize("order", [ENVIRONMENTS, ENVIRONMENTS[::-1]])
def test_every_environment_reports_the_problems_it_reports_alone(
    project: Project, order: tuple[str, ...]
) -> None:
    project.agent("a.yaml", "support", extra="extends: _missing.yaml\n")
    project.agent("b.yaml", "sales", props="idle_timeout: -1\n")
    project.agent(
        "c.yaml", "desk", extra="overrides:\n  prod:\n    properties: {idle_timeout: -2}\n"
    )
    project.agent("d.yaml", "desk")  # a duplicate name in every environment
    shared = SharedLoads(2)
    for environment in order:
        alone = _errors(project, environment, None)
        assert _errors(project, environment, shared) == alone
        assert all(f"[{environment}]" in line for line in alone)
    assert _errors(project, "prod", None) != _errors(project, "staging", None)
