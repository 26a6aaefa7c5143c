"""A reference cycle among the manifests' resources is a validation problem: `validate` reports
it (naming every resource on it, at the first one's line), in every format, as `plan` refuses
it; validate must never pass what plan refuses as invalid manifests."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import Platform

CYCLE = """\
---
kind: SavedAgent
name: loop
spec:
  instructions: Answers the loop line.
  metadata: {line: {ref: PhoneNumber/loop-line}}
---
kind: PhoneNumber
name: loop-line
spec:
  number: "+14155550188"
  sip_trunk: {name: loop, hostname: loop.example.com}
  inbound: {agent: {ref: SavedAgent/loop}, call_policy: {}}
"""
CYCLE_TEXT = "PhoneNumber/loop-line -> SavedAgent/loop -> PhoneNumber/loop-line"


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_validate_reports_a_reference_cycle_naming_its_resources(
    fresh_platform: Platform, fmt: str
) -> None:
    (fresh_platform.dir / "agents.d" / "loop.yaml").write_text(CYCLE, encoding="utf-8")
    result = fresh_platform.ok("validate", "--format", fmt, code=EXIT_ERROR)
    assert CYCLE_TEXT in result.output, result
    if fmt == "json":
        (problem,) = json.loads(result.stdout)["problems"]
        assert problem["path"].endswith("loop.yaml"), problem
    planned = fresh_platform.ok("plan", code=EXIT_ERROR)
    assert CYCLE_TEXT in planned.output, planned
