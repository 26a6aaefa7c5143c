"""Which Platform resources that state does not record use (reference) one it does: what
``reconciler drift`` reports as unmanaged in use.

The Platform shows a reference in its answers in one place: a phone number's ``inbound.agent``
(the id of the saved agent that answers its calls). A saved agent's ``$secrets`` references are
never returned (its stages show only ``credential.mode``, docs/platform-api.md), so an agent
made outside this project that uses one of its secret sets cannot be seen; nor can a campaign
(not a kind of this project).
"""

from __future__ import annotations

from typing import Any

from reconciler.models import StateDoc
from reconciler.models.drift import ResourceUse
from reconciler.models.platform import PHONE_NUMBER, SAVED_AGENT
from reconciler.project.platform import PlatformSession


async def unrecorded_uses(platform: PlatformSession, state: StateDoc) -> list[ResourceUse]:
    """The numbers state does not record that route to a saved agent it records (one list of
    numbers; nothing is asked when state records no saved agent), except one with the digits of
    an interrupted create of a number (it may be ours; the next plan settles it and drift counts
    it as pending). ``platform`` is connected."""
    agents = {r.id for r in state.resources.values() if r.kind == SAVED_AGENT}
    if not agents:
        return []
    numbers = {r.id for r in state.held_resources() if r.kind == PHONE_NUMBER}
    pending = {_digits(c.spec.get("number")) for c in state.creating.values()}
    found: list[ResourceUse] = []
    for item in await platform.list_numbers():
        number_id, agent = item.get("number_id"), _inbound_agent(item)
        if not isinstance(number_id, str) or number_id in numbers or agent not in agents:
            continue
        label = item.get("number")
        if _digits(label) in pending:
            continue  # maybe made by an interrupted create of ours: the next plan settles it
        found.append(
            ResourceUse(
                resource_kind=PHONE_NUMBER,
                id=number_id,
                label=label if isinstance(label, str) else "",
                references=(agent,) if agent is not None else (),
            )
        )
    return found


def _digits(number: Any) -> str:
    """A number's digits (how the Platform tells numbers apart); empty for anything else."""
    return "".join(ch for ch in number if ch.isdigit()) if isinstance(number, str) else ""


def _inbound_agent(item: dict[str, Any]) -> str | None:
    inbound = item.get("inbound")
    agent = inbound.get("agent") if isinstance(inbound, dict) else None
    return agent if isinstance(agent, str) else None
