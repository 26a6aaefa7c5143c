"""plan's warning about an active agent that nothing records names its channel when it is one of
the project's channels, as `status` and `drift` do: the engine shows an agent's channel only in a
channel-filtered list, which plan makes (one per managed channel) only when the app-wide list
shows such an agent, so a clean engine costs a plan no more calls."""

from __future__ import annotations

import json

from tests.cli.ops_project import OpsProject


def test_plan_warning_names_the_managed_channel_of_an_unmanaged_agent(
    applied: OpsProject,
) -> None:
    stray = applied.engine.start_directly("stray-1", channel="support-en", uid="4242")
    elsewhere = applied.engine.start_directly("stray-2", channel="elsewhere", uid="4243")
    plan = json.loads(applied.ok("plan", "--format", "json").stdout)
    assert (
        f"unmanaged agent {stray} in channel support-en is RUNNING (not in state)"
        in (plan["warnings"])
    )
    assert f"unmanaged agent {elsewhere} is RUNNING (not in state)" in plan["warnings"]
    text = applied.ok("plan").output
    assert f"unmanaged agent {stray} in channel support-en is RUNNING" in text, text
