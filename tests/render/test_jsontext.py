"""Every JSON output is valid JSON a strict reader accepts, also for names that are not UTF-8."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconciler.render.jsontext import dumps, valid_json

REPO = Path(__file__).resolve().parents[2]


def test_a_file_name_that_is_not_utf8_is_written_backslash_replaced() -> None:
    name = b"agents.d/x\xff.yaml".decode("utf-8", "surrogateescape")  # as os.fsdecode gives it
    text = dumps({"path": name, "other": "\ud800", "ok": "é"})
    text.encode("utf-8")  # strict: nothing raw
    assert "\\ud" not in text.replace("\\\\", "")  # no lone surrogate escape either
    assert json.loads(text) == {"path": "agents.d/x\\xff.yaml", "other": "\\ud800", "ok": "é"}


def test_valid_json_keeps_text_without_surrogates_as_is() -> None:
    text = json.dumps({"a": "é ü \\x"}, ensure_ascii=False)
    assert valid_json(text) is text or valid_json(text) == text


def test_every_json_output_goes_through_the_one_helper() -> None:
    """plan, drift, status, state list, apply events and validate: no output module serializes
    JSON by itself (``schema`` prints a document of ASCII keys only)."""
    offenders = []
    for path in [*(REPO / "reconciler" / "cli").glob("*.py"), REPO / "reconciler/render/drift.py"]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bjson\.dumps\(", line) and "manifest_schema" not in line:
                offenders.append(f"{path.name}:{number}")
    assert offenders == []
