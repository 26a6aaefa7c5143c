"""End to end: a saved plan is applied only if it is unaltered, of a known format, and every
action in it fits the state it was made for.

Regressions: appending a ``stop`` of an agent id the state does not record stopped that
(foreign) agent; turning a no-op into a ``start`` started a duplicate; ``format_version: 99``
was accepted. An attacker can recompute the digest (it is not keyed), so the action checks are
tested with a recomputed digest as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.project.planfile import plan_digest
from tests.e2e.e2e_helpers import Project, Sandbox

pytestmark = pytest.mark.slow

EXIT_ERROR = 1
EXIT_CONFLICT = 3


def rewrite(path: Path, *, redigest: bool, edit: Any) -> None:
    """Edit the saved plan at ``path`` in place (``edit`` gets the envelope)."""
    envelope = json.loads(path.read_text(encoding="utf-8"))
    edit(envelope)
    if redigest:
        envelope["digest"] = plan_digest(envelope)
    path.write_text(json.dumps(envelope, indent=2), encoding="utf-8")


def agents_of(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    agents: list[dict[str, Any]] = envelope["plan"]["agents"]
    return agents


def test_a_plan_edited_after_it_was_saved_is_refused(project: Project, sandbox: Sandbox) -> None:
    project.ok("plan", "--out", "p.json")
    rewrite(
        project.dir / "p.json",
        redigest=False,
        edit=lambda e: agents_of(e).pop(0),
    )

    refused = project.ok("apply", "p.json", code=EXIT_ERROR)

    assert "p.json: saved plan was changed after it was saved" in refused.stderr
    assert sandbox.agents() == []
    assert not project.state_file.exists()


@pytest.mark.parametrize("version", [99, "1", None])
def test_a_plan_of_a_format_version_this_reconciler_does_not_read_is_refused(
    project: Project, sandbox: Sandbox, version: object
) -> None:
    project.ok("plan", "--out", "p.json")

    def set_version(envelope: dict[str, Any]) -> None:
        if version is None:
            del envelope["plan"]["format_version"]
        else:
            envelope["plan"]["format_version"] = version

    rewrite(project.dir / "p.json", redigest=True, edit=set_version)

    refused = project.ok("apply", "p.json", code=EXIT_ERROR)

    assert "format_version" in refused.stderr and "make the plan again" in refused.stderr
    assert sandbox.agents() == []


def test_a_plan_that_stops_an_agent_the_state_does_not_record_is_refused(
    project: Project, sandbox: Sandbox, tmp_path: Path
) -> None:
    other = Project(tmp_path / "other", sandbox)  # another project on the same engine
    for name in ("concierge", "support-en"):
        other.manifest(name).unlink()
    other.edit("sales-en", "name: sales-en", "name: other-sales")
    other.edit("sales-en", "channel: sales-en", "channel: other-channel")
    other.apply()
    foreign = other.state()["agents"]["other-sales"]["agent_id"]
    project.apply()
    project.ok("plan", "--out", "p.json")

    def append_stop(envelope: dict[str, Any]) -> None:
        agents_of(envelope).append(
            {
                "name": "zz-intruder",
                "action": "stop",
                "reason": "x",
                "reason_code": "removed",
                "agent_id": foreign,
            }
        )

    def retarget_stop(envelope: dict[str, Any]) -> None:
        first = agents_of(envelope)[0]
        first.update(action="stop", agent_id=foreign)

    for edit, message in [
        (append_stop, "stop of zz-intruder: the state records no agent zz-intruder"),
        (retarget_stop, f"stop of concierge names agent {foreign}, but the state records"),
    ]:
        project.ok("plan", "--out", "p.json")
        rewrite(project.dir / "p.json", redigest=True, edit=edit)
        refused = project.ok("apply", "p.json", code=EXIT_ERROR)
        assert "does not fit the state it was made for" in refused.stderr, refused
        assert message in refused.stderr, refused
        assert sandbox.agent(foreign)["status"] == "RUNNING"
    assert len(sandbox.running()) == 4


def test_a_plan_that_starts_a_recorded_agent_still_running_is_refused(
    project: Project, sandbox: Sandbox
) -> None:
    project.apply()
    state_before = project.state_file.read_bytes()

    def to_start(bump: bool) -> Any:
        def edit(envelope: dict[str, Any]) -> None:
            first = agents_of(envelope)[0]
            first["action"] = "start"
            first["generation"] += 1 if bump else 0

        return edit

    # As the plan would have it if the agent had gone: refused once the engine shows it runs.
    project.ok("plan", "--out", "p.json")
    rewrite(project.dir / "p.json", redigest=True, edit=to_start(bump=True))
    refused = project.ok("apply", "p.json", code=EXIT_CONFLICT)
    assert "stale plan: it starts agents whose recorded agent is still active" in refused.stderr
    assert "concierge (agent " in refused.stderr

    # Without the generation a start implies: refused before the engine is asked.
    project.ok("plan", "--out", "p.json")
    rewrite(project.dir / "p.json", redigest=True, edit=to_start(bump=False))
    refused = project.ok("apply", "p.json", code=EXIT_ERROR)
    assert "start of concierge is at generation 1; the state implies 2" in refused.stderr

    assert sorted(sandbox.running()) == [
        project.wire("concierge"),
        project.wire("sales-en"),
        project.wire("support-en"),
    ]
    assert len(sandbox.agents()) == 3
    assert project.state_file.read_bytes() == state_before


def test_a_first_plan_writes_no_state_and_applies_with_the_lineage_it_names(
    project: Project, sandbox: Sandbox
) -> None:
    project.ok("plan", "--out", "first.json")
    assert not (project.dir / "state").exists()
    lineage = json.loads((project.dir / "first.json").read_text())["plan"]["lineage"]

    applied = project.ok("apply", "first.json")

    assert "Apply complete: 3 started." in applied.stdout
    assert project.state()["lineage"] == lineage
    assert "stale plan" in project.ok("apply", "first.json", code=EXIT_CONFLICT).stderr
    project.ok("plan", "--detailed-exitcode", code=0)


def test_a_first_plan_is_stale_once_another_apply_created_the_state(
    project: Project, sandbox: Sandbox
) -> None:
    project.ok("plan", "--out", "first.json")
    project.ok("apply", "--auto-approve", "--target", "concierge")

    refused = project.ok("apply", "first.json", code=EXIT_CONFLICT)

    assert "stale plan: it was made before any state was recorded" in refused.stderr
    assert sorted(sandbox.running()) == [project.wire("concierge")]


def test_a_plan_is_stale_once_its_state_file_is_gone(project: Project, sandbox: Sandbox) -> None:
    project.apply()
    project.ok("plan", "--out", "p.json")
    project.state_file.unlink()

    refused = project.ok("apply", "p.json", code=EXIT_CONFLICT)

    assert "does not exist now; plan again" in refused.stderr
    assert len(sandbox.running()) == 3
