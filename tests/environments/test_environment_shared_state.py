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
