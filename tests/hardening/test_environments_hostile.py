"""Hostile environment choices and per-environment manifests of the Platform's kinds: an unknown
or malformed `--env` (or `RECONCILER_ENV`), `--env all` outside plan and validate, an override
of a field the kind does not have, of a protected key, or for an undeclared environment. Each
is refused with exit 1 and a message naming the environments, or the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.hostile import ALL_THREE, SECRET_SET, HostileProject
from tests.reliability.inproc import run_cli


@pytest.fixture
def project(tmp_path: Path) -> HostileProject:
    p = HostileProject(tmp_path / "project", environments=True)
    p.write({"a.yaml": ALL_THREE})
    return p


@pytest.mark.parametrize("name", ["nope", "Prod", "../prod", "prod ", "a\x1b[31m", "x" * 500])
def test_an_environment_the_settings_do_not_declare_is_refused_naming_the_declared_ones(
    project: HostileProject, name: str
) -> None:
    refused = project.refused("--env", name, "plan")
    assert "reconciler.yaml declares the environments staging, prod" in refused.stderr
    assert "\x1b" not in refused.output


def test_a_malformed_reconciler_env_is_refused_like_the_option(project: HostileProject) -> None:
    result = run_cli("-C", str(project.dir), "plan", env={"RECONCILER_ENV": "bad name!"})
    assert result.code == 1 and "Traceback" not in result.output
    assert "declares the environments staging, prod" in result.stderr


@pytest.mark.parametrize("command", [["apply", "--auto-approve"], ["status"], ["drift"]])
def test_env_all_is_refused_by_a_command_that_works_on_one_environment(
    project: HostileProject, command: list[str]
) -> None:
    refused = project.refused("--env", "all", *command)
    assert "--env all is for plan and validate" in refused.stderr


OVERRIDES: dict[str, tuple[str, str]] = {
    "a field the kind does not have": (
        "overrides:\n  prod:\n    colour: red\n",
        "agents.d/a.yaml:7: [prod] unknown key 'colour' in the SecretSet manifest",
    ),
    "a field of the wrong type": (
        "overrides:\n  prod:\n    keys: [a]\n",
        "agents.d/a.yaml:7: [prod] keys: expected a mapping",
    ),
    "the name": (
        "overrides:\n  prod:\n    name: other\n",
        "agents.d/a.yaml:7: [prod] overrides.prod cannot set 'name'",
    ),
    "an undeclared environment": (
        "overrides:\n  production:\n    keys: {openai: x}\n",
        "agents.d/a.yaml:6: overrides: no environment 'production' (declared: staging, prod)",
    ),
    "an environment's block that is no mapping": (
        "overrides:\n  prod: 12\n",
        "agents.d/a.yaml:6: [prod] overrides.prod must be a mapping",
    ),
    "presence in an undeclared environment": (
        "environments: [prodd]\n",
        "agents.d/a.yaml:5: environments: no environment 'prodd' (declared: staging, prod)",
    ),
}


@pytest.mark.parametrize("case", sorted(OVERRIDES))
def test_a_hostile_override_of_a_secret_set_is_refused_at_its_line(
    tmp_path: Path, case: str
) -> None:
    text, expected = OVERRIDES[case]
    project = HostileProject(tmp_path / "project", environments=True)
    project.write({"a.yaml": SECRET_SET + text})
    refused = project.refused("validate")
    assert expected in refused.stderr, str(refused)
    assert "Internal error" not in project.refused("--env", "prod", "plan").output
