"""Environments in ``reconciler.yaml``: each one's block merged onto the file, its credentials
read from the variables it names, its own state; and the choice of one (``--env``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import EnvironmentChoiceError, ValidationError
from reconciler.manifests import load_settings
from reconciler.manifests.settings import declared_environments, environ_for

SETTINGS = """\
engine: us
app_id: ${AGORA_APP_ID}
max_concurrent_agents: 20
parallelism: 10
environments:
  staging:
    state: state/staging.json
  prod:
    app_id: ${AGORA_APP_ID}
    state: state/prod.json
    engine: eu
    max_concurrent_agents: 50
    variables:
      AGORA_APP_ID: PROD_AGORA_APP_ID
      AGORA_CUSTOMER_ID: PROD_AGORA_CUSTOMER_ID
      AGORA_CUSTOMER_SECRET: PROD_AGORA_CUSTOMER_SECRET
"""
ENVIRON = {
    "AGORA_APP_ID": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
    "AGORA_CUSTOMER_ID": "staging-id",
    "AGORA_CUSTOMER_SECRET": "staging-secret",
    "PROD_AGORA_APP_ID": "9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b9b",
    "PROD_AGORA_CUSTOMER_ID": "prod-id",
    "PROD_AGORA_CUSTOMER_SECRET": "prod-secret",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "reconciler.yaml").write_text(SETTINGS, encoding="utf-8")
    return tmp_path


def test_each_environment_overrides_the_settings_that_differ(project: Path) -> None:
    staging = load_settings(project, None, ENVIRON, "staging")
    prod = load_settings(project, None, ENVIRON, "prod")
    assert (staging.environment, staging.engine, staging.max_concurrent_agents) == (
        "staging",
        "us",
        20,
    )
    assert (prod.environment, prod.engine, prod.max_concurrent_agents) == ("prod", "eu", 50)
    assert staging.parallelism == prod.parallelism == 10
    assert staging.state == "state/staging.json" and prod.state == "state/prod.json"
    assert staging.environments == prod.environments == ("staging", "prod")


def test_an_environment_reads_its_credentials_from_the_variables_it_names(
    project: Path,
) -> None:
    staging = load_settings(project, None, ENVIRON, "staging")
    prod = load_settings(project, None, ENVIRON, "prod")
    assert staging.app_id == ENVIRON["AGORA_APP_ID"]
    assert prod.app_id == ENVIRON["PROD_AGORA_APP_ID"]
    assert staging.customer_id is not None and prod.customer_id is not None
    assert staging.customer_id.get_secret_value() == "staging-id"
    assert prod.customer_id.get_secret_value() == "prod-id"


def test_a_renamed_variable_that_is_unset_never_falls_back_to_the_plain_one(
    project: Path,
) -> None:
    environ = {k: v for k, v in ENVIRON.items() if not k.startswith("PROD_AGORA_CUSTOMER")}
    prod = load_settings(project, None, environ, "prod")
    assert prod.customer_id is None and prod.customer_secret is None
    assert not prod.has_credentials
    view = environ_for(prod.variables, environ)
    assert "AGORA_CUSTOMER_ID" not in view


def test_a_project_with_environments_and_none_chosen_names_them(project: Path) -> None:
    with pytest.raises(EnvironmentChoiceError) as caught:
        load_settings(project, None, ENVIRON)
    assert "declares the environments staging, prod" in str(caught.value)
    assert "--env NAME" in str(caught.value) and "RECONCILER_ENV" in str(caught.value)
    assert caught.value.declared == ("staging", "prod")


def test_an_unknown_environment_is_refused_naming_the_declared_ones(project: Path) -> None:
    with pytest.raises(EnvironmentChoiceError, match=r"--env qa: .* staging, prod"):
        load_settings(project, None, ENVIRON, "qa")


def test_a_misspelt_environment_suggests_the_one_it_may_mean(project: Path) -> None:
    with pytest.raises(EnvironmentChoiceError, match=r"\(did you mean staging\?\)$"):
        load_settings(project, None, ENVIRON, "stagin")


def test_a_project_without_environments_refuses_env(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("engine: sandbox\n", encoding="utf-8")
    assert load_settings(tmp_path, None, {}).environment is None
    with pytest.raises(EnvironmentChoiceError, match="declares no environments"):
        load_settings(tmp_path, None, {}, "prod")


def test_every_environment_needs_a_state_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "environments:\n  staging:\n    state: state/s.json\n  prod:\n    max_unavailable: 2\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {}, "staging")
    assert [str(p) for p in caught.value.problems] == [
        "reconciler.yaml:4: environments.prod needs a state of its own: set state (a file or a "
        "postgresql:// URL) or state_key"
    ]


def test_an_environment_block_is_checked_like_the_file(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "environments:\n"
        "  staging:\n"
        "    state: state/s.json\n"
        "    paralelism: 3\n"
        "    agents_dir: other.d\n"
        "  all:\n"
        "    state: state/a.json\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {}, "staging")
    found = [str(p) for p in caught.value.problems]
    assert found[0].startswith("reconciler.yaml:4: ") and "parallelism" in found[0]
    assert found[1].startswith("reconciler.yaml:5: ") and "agents_dir" in found[1]
    assert found[2].startswith("reconciler.yaml:6: 'all' cannot name an environment")


def test_a_value_of_the_chosen_block_is_located_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "environments:\n  prod:\n    state: state/p.json\n    parallelism: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {}, "prod")
    assert str(caught.value.problems[0]).startswith("reconciler.yaml:4: parallelism")


def test_declared_environments_in_the_order_written(project: Path) -> None:
    assert declared_environments(project, None) == ("staging", "prod")
