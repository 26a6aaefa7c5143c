"""``import_record``: the record an import writes, and the checks made before any engine call."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from reconciler.apply.imports import check_importable, import_record
from reconciler.errors import OperationError
from reconciler.models import AgentRecord, DesiredSet, JournalEntry
from reconciler.state import new_state
from tests.apply.harness import World, agent, desired, make_world


def _import(world: World, want: DesiredSet, agent_id: str, assume: bool) -> AgentRecord:
    async def go() -> AgentRecord:
        async with world.client() as client:
            return await import_record(
                client, want, world.store.load(), "support", agent_id,
                now=time.time(), assume_matches=assume,
            )  # fmt: skip

    return asyncio.run(go())


def test_an_assumed_import_records_the_spec_exactly_as_apply_records_it(tmp_path: Path) -> None:
    want = desired(agent("support"))
    _, _, applied = make_world(tmp_path / "a").apply(want)
    world = make_world(tmp_path / "b")
    world.store.write(world.store.load().model_copy(update={"salt": applied.salt}))
    agent_id = world.start_directly("by-hand", channel="support")
    record = _import(world, want, agent_id, assume=True)
    started = applied.agents["support"]
    assert (record.spec, record.spec_digest) == (started.spec, started.spec_digest)
    assert "sk-secret-value-123" not in json.dumps(record.model_dump())
    assert (record.generation, record.wire_name, record.channel) == (0, "support-0", "support")
    assert record.token_expires_at is not None  # unknown token: renewed by the next plan


def test_a_default_import_records_an_unknown_spec(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    agent_id = world.start_directly("by-hand", channel="support")
    record = _import(world, desired(agent("support")), agent_id, assume=False)
    assert record.spec == {} and record.token_expires_at is None


def test_an_import_is_refused_while_a_journal_entry_names_the_agent() -> None:
    entry = JournalEntry(
        id="e", op="join", name="other", wire_name="other-1", generation=1, channel="support",
        agent_id="A1", created_at=1.0,
    )  # fmt: skip
    state = new_state().model_copy(update={"journal": [entry]})
    with pytest.raises(OperationError, match="interrupted engine call"):
        check_importable(desired(agent("support")), state, "support", "A1")
