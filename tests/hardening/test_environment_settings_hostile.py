"""Every malformed ``reconciler.yaml`` of a project with environments: ``validate``, ``plan --env
all`` and ``plan --env staging`` exit 1 with the file and line of the problem and the field it
names, never a traceback or an internal error, and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import EXIT_ERROR
from tests.apply.harness import MANIFEST_TEMPLATE
from tests.reliability.inproc import run_cli

GOOD = "  prod:\n    app_id: fedcba9876543210fedcba9876543210\n    state: state/prod.json\n"
CASES = {
    "wrong type": ("environments:\n  staging:\n    state: a.json\n    parallelism: ten\n", 4),
    "negative": ("environments:\n  staging:\n    state: a.json\n    max_attempts: -1\n", 4),
    "boolean number": (
        "environments:\n  staging:\n    state: a.json\n    parallelism: true\n",
        4,
    ),
    "unknown key": ("environments:\n  staging:\n    state: a.json\n    stat_key: x\n", 4),
    "duplicate key": ("environments:\n  staging:\n    state: a.json\n    state: b.json\n", 4),
    "duplicate environment": (
        "environments:\n  staging:\n    state: a.json\n  staging:\n    state: b.json\n",
        4,
    ),
    "tab": ("environments:\n  staging:\n\tstate: a.json\n", 3),
    "bad yaml": ("environments:\n  staging: {state: [a.json\n", 3),
    "odd name": ('environments:\n  "st@ging":\n    state: a.json\n', 2),
    "no state": ("environments:\n  staging:\n    app_id: abc\n", 2),
    "null state": ("environments:\n  staging:\n    state: null\n", 2),
    "empty state": ('environments:\n  staging:\n    state: ""\n', 3),
    "directory state": ("environments:\n  staging:\n    state: state/\n", 3),
    "bad url": ('environments:\n  staging:\n    state: "postgresql://u@h:x/db"\n', 3),
    "bad scheme": ('environments:\n  staging:\n    state: "mysql://u@h/db"\n', 3),
    "bad engine": ('environments:\n  staging:\n    state: a.json\n    engine: "http://x.com"\n', 4),
    "agents_dir in env": (
        "environments:\n  staging:\n    state: a.json\n    agents_dir: other\n",
        4,
    ),
    "block not a mapping": ("environments:\n  staging: [state]\n", 2),
    "variables not a mapping": (
        "environments:\n  staging:\n    state: a.json\n    variables: [A]\n",
        4,
    ),
}


@pytest.mark.parametrize(
    "command",
    [("validate",), ("plan", "--env", "all"), ("--env", "staging", "plan")],
    ids=" ".join,
)
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_settings_file_is_a_located_error(
    tmp_path: Path, case: str, command: tuple[str, ...]
) -> None:
    text, line = CASES[case]
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "agents.d" / "alpha.yaml").write_text(
        MANIFEST_TEMPLATE.format(name="alpha"), encoding="utf-8"
    )
    (tmp_path / "reconciler.yaml").write_text(text + GOOD, encoding="utf-8")
    result = run_cli("-C", str(tmp_path), *command)
    assert result.code == EXIT_ERROR, result
    assert "Traceback" not in result.output and "Internal error" not in result.output, result
    assert f"reconciler.yaml:{line}:" in result.stderr, result
    assert not (tmp_path / "state").exists() and not (tmp_path / "a.json").exists()
