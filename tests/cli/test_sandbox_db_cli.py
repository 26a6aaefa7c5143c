"""``sandbox_db:`` that cannot be opened is a settings error naming it, never an internal one."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import EXIT_ERROR
from tests.apply.harness import MANIFEST_TEMPLATE
from tests.reliability.inproc import run_cli


@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve")], ids=" ".join)
def test_a_sandbox_db_that_is_a_directory_is_a_settings_error(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "agents.d" / "alpha.yaml").write_text(
        MANIFEST_TEMPLATE.format(name="alpha"), encoding="utf-8"
    )
    (tmp_path / "reconciler.yaml").write_text("sandbox_db: agents.d\n", encoding="utf-8")
    result = run_cli("-C", str(tmp_path), *command)
    assert result.code == EXIT_ERROR, result
    assert "Internal error" not in result.output, result
    assert "sandbox_db" in result.stderr and "agents.d" in result.stderr, result
    assert not (tmp_path / "state" / "agents.json").exists()
