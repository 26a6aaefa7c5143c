"""Specs share their values: a plan's view of an agent shares every subtree that normalizing
and redacting leave alone with the manifest's spec, agents loaded from manifests share equal
mappings of scalars, and so do the records of a state read from its file. Sharing is safe only
while nothing changes a spec in place: planning, applying and rendering must leave every
desired spec and every recorded spec as it was.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from reconciler.diff import normalize_spec, redact
from reconciler.manifests import load_desired, load_settings
from reconciler.models import DesiredAgent, DesiredSet, StateDoc
from reconciler.plan import desired_view
from reconciler.render import render_json_text, render_text
from reconciler.state import LocalStateStore
from tests.apply.harness import agent, desired, make_world


def _specs(want: DesiredSet, state: StateDoc) -> dict[str, Any]:
    return {
        "desired": {n: a.spec for n, a in want.agents.items()},
        "recorded": {n: r.spec for n, r in state.agents.items()},
    }


def test_a_view_shares_what_redaction_leaves_and_equals_a_copied_view() -> None:
    one = agent("one", prompt="Be brief.")
    spec = one.spec
    before = copy.deepcopy(spec)
    view = desired_view(one, "salt")
    expected = redact(normalize_spec({**spec, "token": "auto"}), one.sensitive, "salt")
    assert view.spec == expected
    assert spec == before  # the manifest's spec is untouched
    llm, shown = spec["properties"]["llm"], view.spec["properties"]["llm"]
    assert shown is not llm and shown["api_key"] != llm["api_key"]  # copied on the secret's path
    assert shown["system_messages"] is llm["system_messages"]  # shared off it
    assert shown["params"] is llm["params"]


def test_a_view_of_a_spec_holding_a_null_is_a_copy_without_it() -> None:
    spec = copy.deepcopy(agent("one").spec)
    spec["properties"]["llm"]["params"]["max_tokens"] = None
    nulled = DesiredAgent(name="one", path="agents.d/one.yaml", spec=spec)
    view = desired_view(nulled, "salt")
    assert "max_tokens" not in view.spec["properties"]["llm"]["params"]
    assert spec["properties"]["llm"]["params"]["max_tokens"] is None


def test_planning_applying_and_rendering_change_no_shared_spec(tmp_path: Path) -> None:
    world = make_world(tmp_path, pcu_limit=100)
    first = desired(agent("a"), agent("b"), agent("c", tts_vendor="elevenlabs"))
    _, result, _ = world.apply(first)
    assert result.ok, result.failed
    # A state read from its file (shared mappings), then a plan with an in-place update (a
    # list item changed), a restart and a start, applied.
    world.store = LocalStateStore(world.store.path)
    changed = desired(
        agent("a", prompt="Answer in one sentence."),
        agent("b", tts_vendor="elevenlabs"),
        agent("c", tts_vendor="elevenlabs"),
        agent("d"),
    )
    plan, state = world.plan(changed)
    assert {a.name: a.action for a in plan.agents} == {
        "a": "update",
        "b": "restart",
        "c": "no-op",
        "d": "start",
    }
    snapshot = copy.deepcopy(_specs(changed, state))
    render_text(plan, color=False)
    render_json_text(plan)
    _, result, after = world.apply(changed)
    assert result.ok, result.failed
    assert _specs(changed, state) == snapshot
    assert {n: r.spec_digest for n, r in after.agents.items()} == {
        n: desired_view(a, after.salt).digest for n, a in changed.agents.items()
    }
    replan, _ = world.plan(changed)
    assert not replan.has_changes


def test_agents_read_from_manifests_share_equal_mappings_of_scalars(tmp_path: Path) -> None:
    (tmp_path / "agents.d").mkdir()
    (tmp_path / "reconciler.yaml").write_text("engine: sandbox\nstate: state/agents.json\n")
    for name in ("one", "two"):
        (tmp_path / "agents.d" / f"{name}.yaml").write_text(
            f"name: {name}\nproperties:\n  channel: {name}\n  agent_rtc_uid: '7'\n"
            "  remote_rtc_uids: ['*']\n  llm:\n    url: https://llm.example/v1\n"
            "    params: {model: m, temperature: 0.5}\n  tts:\n    vendor: microsoft\n"
        )
    want = load_desired(load_settings(tmp_path, None, {}), {})
    one, two = (want.agents[n].spec["properties"] for n in ("one", "two"))
    assert one["llm"]["params"] == {"model": "m", "temperature": 0.5}
    assert one["llm"]["params"] is two["llm"]["params"]
    assert one["tts"] is two["tts"]
