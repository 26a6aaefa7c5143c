"""End to end, through the CLI and a served sandbox: token renewal, and validation errors."""

from __future__ import annotations

import time

import pytest

from tests.e2e.e2e_helpers import Project, Sandbox

pytestmark = pytest.mark.slow


def test_a_token_is_renewed_before_the_sandbox_expires_it(
    project: Project, sandbox: Sandbox
) -> None:
    # Tokens live 60 s and are renewed in their last 59 s: due a second after they are minted.
    project.set_setting("token_ttl_s", 60)
    project.set_setting("token_renewal_window_s", 59)
    project.apply()
    minted_at = time.time()
    ids = {name: r["agent_id"] for name, r in project.state()["agents"].items()}
    first = {name: sandbox.agent(i)["token"] for name, i in ids.items()}
    assert all(t["verified"] and 45 < t["seconds_left"] <= 60 for t in first.values()), first

    sandbox.advance(40)  # 20 s of the first tokens left on the engine's clock
    time.sleep(max(0.0, minted_at + 1.5 - time.time()))
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert plan.stdout.count("token expires in") == 3, plan.stdout
    assert "Plan: 3 token renewals; 0 unchanged." in plan.stdout
    assert "support-en will have its token renewed in place" in plan.stdout

    # Renew two of them; concierge keeps its first token as the control.
    renewed = project.ok(
        "apply", "--auto-approve", "--target", "support-en", "--target", "sales-en"
    )
    assert "Apply complete: 2 token(s) renewed." in renewed.stdout
    assert "support-en: token renewed" in renewed.stdout
    for name in ("support-en", "sales-en"):
        view = sandbox.agent(ids[name])
        assert view["token"]["verified"]
        assert view["token"]["expires_at"] > first[name]["expires_at"] + 30
        assert [u["body"]["properties"].keys() for u in view["updates"]] == [{"token"}]
        assert project.state()["agents"][name]["agent_id"] == ids[name]

    sandbox.advance(30)  # past the first tokens' expiry

    assert sandbox.agent(ids["support-en"])["status"] == "RUNNING"
    assert sandbox.agent(ids["sales-en"])["status"] == "RUNNING"
    control = sandbox.agent(ids["concierge"])
    assert control["status"] != "RUNNING"
    assert "token expired" in control["message"]
    # The next plan sees it exited and starts it again.
    again = project.ok("plan", "--detailed-exitcode", code=2)
    assert "concierge" in again.stdout and "token expired" in again.stdout


def test_validate_reports_every_broken_manifest_as_file_line_message(
    project: Project, sandbox: Sandbox
) -> None:
    uid = '  agent_rtc_uid: "2001"\n'
    project.edit("sales-en", uid, uid + "  idle_timout: 5\n")  # misspelt, line 8
    broken = project.dir / "agents.d" / "broken.yaml"
    broken.write_text("name: broken\nproperties:\n  channel: [unclosed\n", encoding="utf-8")

    result = project.ok("validate", code=1)

    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: 2 problems in agents.d:",
        "  agents.d/broken.yaml:4: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence)",
        "  agents.d/sales-en.yaml:8: unknown key 'idle_timout' in properties, "
        "did you mean 'idle_timeout'?",
        "      |",
        "    8 |   idle_timout: 5",
        "      |   ^",
    ]
    # plan and apply refuse the same way, before touching the engine.
    assert project.ok("apply", "--auto-approve", code=1).stderr == result.stderr
    assert sandbox.agents() == []
