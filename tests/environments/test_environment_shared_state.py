"""Two environments may not name one state: each keeps its own (validate, plan --env all)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.inproc import run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example project as committed: staging and prod on the embedded sandbox."""
    shutil.copy(ROOT / "reconciler.yaml", tmp_path / "reconciler.yaml")
    shutil.copytree(ROOT / "agents.d", tmp_path / "agents.d")
    return tmp_path


def _point_prod_at(example: Path, state: str) -> None:
    settings = example / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8")
    assert "state: state/prod.json" in text
    settings.write_text(text.replace("state: state/prod.json", f"state: {state}"), "utf-8")


@pytest.mark.parametrize("command", [("validate",), ("plan", "--env", "all")])
def test_environments_sharing_one_state_file_are_refused(
    example: Path, command: tuple[str, ...]
) -> None:
    _point_prod_at(example, "state/../state/staging.json")  # the same file, spelled otherwise
    result = run_cli("-C", str(example), *command)
    assert result.code == 1, result
    assert "environments 'staging' and 'prod' share one state" in result.stderr, result
    assert "staging.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (example / "state").exists(), "a refused command wrote a state"


def test_environments_with_their_own_state_files_are_valid(example: Path) -> None:
    _point_prod_at(example, "state/production.json")
    assert run_cli("-C", str(example), "validate").code == 0


def test_a_shared_state_is_reported_at_the_line_of_the_second_environments_state(
    example: Path,
) -> None:
    _point_prod_at(example, "state/staging.json")
    lines = (example / "reconciler.yaml").read_text(encoding="utf-8").splitlines()
    prod = lines.index("  prod:")
    line = prod + 1 + next(i for i, t in enumerate(lines[prod:]) if "state:" in t)
    result = run_cli("-C", str(example), "validate")
    assert result.code == 1, result
    assert f"reconciler.yaml:{line}: " in result.stderr, result


DATABASE = """\
engine: sandbox
app_certificate: 5a4d1c3b2e6f708192a3b4c5d6e7f809
environments:
  staging:
    state: {staging}
    state_key: one
  prod:
    app_id: fedcba9876543210fedcba9876543210
    state: {prod}
    state_key: one
"""


@pytest.mark.parametrize(
    "prod",
    [
        "postgres://postgres@127.0.0.1/reconciler",
        "postgresql://postgres@127.0.0.1:5432/reconciler",
        "POSTGRESQL://postgres@127.0.0.1/reconciler",
        "postgresql://postgres@127.0.0.1/reconciler?application_name=x&connect_timeout=5",
    ],
)
@pytest.mark.parametrize("command", [("validate",), ("plan", "--env", "all", "--no-refresh")])
def test_one_database_state_spelled_two_ways_is_refused(
    tmp_path: Path, prod: str, command: tuple[str, ...]
) -> None:
    """postgres:// and postgresql://, the default port written or not, query parameters in
    another order: one database, one table, one state_key."""
    shutil.copytree(ROOT / "agents.d", tmp_path / "agents.d")
    staging = "postgresql://postgres@127.0.0.1/reconciler?connect_timeout=5&application_name=x"
    if "?" not in prod:
        staging = "postgresql://postgres@127.0.0.1/reconciler"
    settings = DATABASE.format(staging=staging, prod=prod)
    (tmp_path / "reconciler.yaml").write_text(settings, encoding="utf-8")
    result = run_cli("-C", str(tmp_path), *command)
    assert result.code == 1, result
    assert "share one state" in result.stderr, result
    assert "Traceback" not in result.output


def test_one_database_with_two_state_keys_is_fine(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "agents.d", tmp_path / "agents.d")
    settings = DATABASE.format(
        staging="postgresql://postgres@127.0.0.1/reconciler",
        prod="postgres://postgres@127.0.0.1:5432/reconciler",
    ).replace("state_key: one\n", "state_key: two\n", 1)
    (tmp_path / "reconciler.yaml").write_text(settings, encoding="utf-8")
    assert run_cli("-C", str(tmp_path), "validate").code == 0
