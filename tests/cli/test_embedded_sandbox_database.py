"""An embedded sandbox database that is not one (a stray file, a truncated copy) is named in a
clear error, for read-only commands and writers alike, and left as it was.

Regression: ``plan`` and ``apply`` ended with ``Internal error (DatabaseError): file is not a
database`` (``sandbox serve`` named the file already).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, snapshot
from tests.reliability.inproc import run_cli


@pytest.mark.parametrize(
    "command", [("plan",), ("status",), ("apply", "--auto-approve")], ids=" ".join
)
def test_a_sandbox_database_that_is_not_one_is_named(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    project = example_project(tmp_path / "project")
    db = project / ".sandbox" / "engine.db"
    db.parent.mkdir()
    db.write_text("not a database\n", encoding="utf-8")
    before = snapshot(project)

    result = run_cli("-C", str(project), *command)

    assert result.code == 1, result
    assert "Internal error" not in result.output and "Traceback" not in result.output
    assert f"{db}: cannot use it as the embedded sandbox's database" in result.stderr
    assert "file is not a database" in result.stderr
    after = snapshot(project)
    assert after[".sandbox/engine.db"] == before[".sandbox/engine.db"]
    if command[0] != "apply":  # a writer takes the state lock first (its file is kept)
        assert after == before
    assert sorted(p.name for p in db.parent.iterdir()) in (
        ["engine.db"],
        [".gitignore", "engine.db"],
    )
