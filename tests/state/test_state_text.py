"""The state text assembled from cached pieces is exactly ``json.dumps(..., indent=2)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.models.state import AgentRecord, JournalEntry, StateDoc
from reconciler.state import LocalStateStore, dump_state


def _reference(doc: StateDoc) -> str:
    return (
        json.dumps(doc.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
_names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,5}", fullmatch=True)  # the state's name rule
# Keys and strings that need escaping are in the specs (names and channels may hold none).


def _record(name: str, spec: Any, generation: int) -> AgentRecord:
    return AgentRecord(
        name=name, agent_id=f"id-{name}", wire_name=f"{name}-{generation}", generation=generation,
        channel="c ~{}", started_at=1.5, token_mode="auto", token_expires_at=2.0,
        spec={"properties": spec}, spec_digest="sha256:00",
    )  # fmt: skip


def _entry(name: str, spec: Any) -> JournalEntry:
    return JournalEntry(
        id=f"e-{name}", op="join", name=name, wire_name=f"{name}-1", generation=1, channel="c",
        created_at=3.0, spec={"properties": spec},
    )  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    agents=st.dictionaries(_names, _json, max_size=4),
    journal=st.dictionaries(_names, _json, max_size=3),
    serial=st.integers(0, 10**6),
)
def test_dump_state_is_json_dumps_indent_2(
    agents: dict[str, Any], journal: dict[str, Any], serial: int
) -> None:
    doc = StateDoc(
        lineage="00000000-0000-4000-8000-00000000000a", serial=serial, salt="s",
        agents={name: _record(name, spec, 1) for name, spec in agents.items()},
        journal=[_entry(name, spec) for name, spec in journal.items()],
    )  # fmt: skip
    assert dump_state(doc) == _reference(doc)


def test_successive_writes_reuse_unchanged_pieces_and_stay_exact(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "agents.json")
    doc = store.load()
    for step in range(6):
        agents = dict(doc.agents)
        agents[f"a{step % 3}"] = _record(f"a{step % 3}", {"step": step, "x": [1, "é"]}, step)
        journal = [_entry("p", {"k": step})] if step % 2 else []
        doc = store.write(doc.model_copy(update={"agents": agents, "journal": journal}))
        assert (tmp_path / "agents.json").read_text(encoding="utf-8") == _reference(doc)
