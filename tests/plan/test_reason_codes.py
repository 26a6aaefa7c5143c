"""Every planned agent carries one reason code, and decisions read the code, not the words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.models import AgentPlan
from reconciler.models.plan import ReasonCode
from reconciler.project.planfile import load_plan_file, plan_digest, save_plan_file
from tests.render.render_plans import make_plan, restart


def test_a_restart_is_a_rotation_by_its_code_whatever_its_words() -> None:
    rotation = restart().model_copy(
        update={"reason_code": ReasonCode.ROTATION, "reason": "reworded", "changes": ()}
    )
    assert rotation.is_rotation
    worded_like_one = restart().model_copy(update={"reason": "rotate (reaches the 72 h cap)"})
    assert not worded_like_one.is_rotation


def test_an_agent_plan_without_a_reason_code_is_refused() -> None:
    with pytest.raises(ValueError, match="reason_code"):
        AgentPlan(name="a", action="start", reason="new agent")  # type: ignore[call-arg]


def test_a_plan_saved_before_reason_codes_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    save_plan_file(make_plan(restart()), path)
    envelope = json.loads(path.read_text(encoding="utf-8"))
    envelope["plan"]["format_version"] = 1
    for agent in envelope["plan"]["agents"]:
        del agent["reason_code"]
    del envelope["digest"]
    envelope["digest"] = plan_digest(envelope)
    path.write_text(json.dumps(envelope), encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        load_plan_file(path)
    message = str(refused.value)
    assert "format_version 1" in message and "make the plan again" in message
