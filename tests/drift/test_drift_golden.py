"""Golden drift scenarios in tests/drift/cases/ (same layout as the plan cases in tests/cases/):
each reports exactly as recorded in text, markdown and JSON, and leaks no secret.

``UPDATE_GOLDEN=1 pytest tests/drift/test_drift_golden.py`` rewrites the expected files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from reconciler.drift import build_drift
from reconciler.render.drift import (
    render_drift_json_text,
    render_drift_markdown,
    render_drift_text,
)
from tests.golden import APP_ID, NOW, Case, desired_for, live_for, recorded_for

CASES_DIR = Path(__file__).parent / "cases"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _cases() -> list[Case]:
    out = []
    for path in sorted(p for p in CASES_DIR.iterdir() if (p / "case.yaml").exists()):
        meta = yaml.safe_load((path / "case.yaml").read_text()) or {}
        env = {str(k): str(v) for k, v in (meta.get("env") or {}).items()}
        out.append(Case(path.name, path, meta, env, env))
    return out


CASES = _cases()


def _outputs(case: Case) -> dict[str, str]:
    state = recorded_for(case)
    report = build_drift(
        desired_for(case),
        state,
        live_for(case, state),
        now=NOW,
        app_id=APP_ID,
        engine="sandbox (local emulator)",
    )
    return {
        "expected.txt": render_drift_text(report) + "\n",
        "expected.md": render_drift_markdown(report),
        "expected.json": render_drift_json_text(report) + "\n",
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_drift_report(case: Case) -> None:
    for filename, actual in _outputs(case).items():
        path = case.path / filename
        if UPDATE:
            path.write_text(actual, encoding="utf-8")
            continue
        assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
        assert actual == path.read_text(encoding="utf-8"), f"{case.name}/{filename}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_drift_reports_hold_no_secret(case: Case) -> None:
    for output in _outputs(case).values():
        for secret in case.secrets:
            assert secret not in output
