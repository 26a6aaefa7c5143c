"""A state refused for another engine (or Platform) says how to move it on purpose; in a project
with environments the command it names carries the environment (`state rebind` alone is
refused there: the project declares several)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_with_environments, run_main


def test_a_state_of_another_engine_names_rebind_with_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = example_with_environments(tmp_path / "p")
    code, _, err = run_main(
        ["-C", str(directory), "--env", "prod", "apply", "--auto-approve"], capsys
    )
    assert code == 0, err
    monkeypatch.setenv("RECONCILER_ENGINE", "http://127.0.0.1:9")
    monkeypatch.setenv("PROD_AGORA_CUSTOMER_ID", "x")
    monkeypatch.setenv("PROD_AGORA_CUSTOMER_SECRET", "y")
    code, _, err = run_main(["-C", str(directory), "--env", "prod", "plan", "--no-refresh"], capsys)
    assert code == 1
    assert "to move the state on purpose, run `reconciler --env prod state rebind`" in err, err
