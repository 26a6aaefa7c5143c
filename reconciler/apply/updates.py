"""Settling the write-ahead entries of resources' updates (:class:`PendingUpdate`).

An update is written ahead in its record (``ResourceRecord.updating``: the version it sends as
``If-Match``, the redacted spec it brings the resource to) before it is sent, and replaced by
the new record when its answer lands. An entry that is still there (the run was killed, or the
answer was lost) is settled from the resource as the engine holds it now (``Kind.read``):

* its version is still the one the update sent: the update never took effect; the entry is
  **forgotten** and the plan updates it as usual;
* its version moved and what the engine shows is what the update sent (seen through the kind's
  ``observe``, redacted like state): the update took effect; it is **recorded** (the entry's spec,
  the version read), so the plan is a no-op where the manifest did not change since;
* its version moved and the engine shows something else: it was **changed outside** (after the
  update, or instead of it); the entry is dropped and the record kept as it was, or given the
  entry's spec (with state's version) when the engine shows every field the update changed as
  sent, or shows exactly what state recorded (a revert: compared with state nothing would
  differ), so the plan shows the drift for review and sends its update with the version it
  read, never a blind one;
* the engine no longer holds it: the entry is dropped (the plan creates it again).

What the engine never shows (secret values, credentials, a SIP password) cannot be compared:
an update of those only is recorded when the version moved and everything shown agrees (the
same rests on the name of a secret set for an interrupted create).

``apply`` and ``destroy`` settle under the state lock and write the result; ``plan`` only
previews it (nothing is written) and lists each entry's fate among its warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from reconciler.diff import field_changes, redacted_like
from reconciler.kinds import KindRegistry
from reconciler.models import StateDoc
from reconciler.models.live import LiveResource
from reconciler.models.resources import PendingUpdate, ResourceRecord

Fate = Literal["record", "forget", "outside", "gone"]


@dataclass(frozen=True)
class UpdateSettlement:
    """What the engine says of one interrupted update."""

    record: ResourceRecord
    """The record as state holds it, with its entry."""
    live: LiveResource | None
    fate: Fate
    unchanged: bool = False
    """For ``outside``: what the engine shows is what state records, not what the update sent
    (it was reverted, or something the engine never shows changed first and the update was
    refused): compared with state there would be no drift to review and an update with state's
    version would be refused (412) again and again, so the entry's spec is recorded (with
    state's version) and the plan shows the update's fields as changed outside."""
    took: bool = False
    """For ``outside``: the engine shows every field the update changed as it sent them (it
    took effect; other fields were changed outside since): the entry's spec is recorded, with
    state's version, so the drift shown is the change made outside only."""

    @property
    def entry(self) -> PendingUpdate:
        assert self.record.updating is not None
        return self.record.updating

    def preview(self) -> str:
        """The entry's fate in the words of a plan (apply will ...)."""
        address = self.record.address
        if self.fate == "record":
            return (
                f"an interrupted update of {address} took effect (the engine shows what it "
                f"sent, at version {self._version()}): apply will record it instead of sending "
                "it again"
            )
        if self.fate == "forget":
            return (
                f"an interrupted update of {address} did not take effect (its version is the "
                "one it was sent with): apply will update it as planned"
            )
        if self.fate == "gone":
            return f"an interrupted update of {address} found it gone from the engine"
        return self._outside()

    def done(self) -> str:
        """What settling did (a note of apply)."""
        address = self.record.address
        if self.fate == "record":
            return (
                f"recorded the interrupted update of {address} (version {self._version()}): "
                "it took effect"
            )
        if self.fate == "forget":
            return f"forgot the interrupted update of {address}: it did not take effect"
        if self.fate == "gone":
            return f"forgot the interrupted update of {address}: the engine no longer holds it"
        return self._outside()

    def _version(self) -> str:
        return self.live.version if self.live is not None and self.live.version else "unknown"

    def _outside(self) -> str:
        address = self.record.address
        text = (
            f"an interrupted update of {address} meets a resource changed outside (version "
            f"{self._version()}, and the engine shows neither what the update sent nor what "
            "state records): nothing is sent to it without review; the plan shows the drift"
        )
        if self.took:
            text = (
                f"an interrupted update of {address} took effect, and the resource was changed "
                f"outside since (version {self._version()}): nothing is sent to it without "
                "review; the plan shows the drift"
            )
        if self.unchanged:
            text = (
                f"an interrupted update of {address} meets a resource changed outside (version "
                f"{self._version()}): the engine shows what state recorded before the update, "
                "not what it sent (reverted, or changed where the engine shows nothing): "
                "nothing is sent to it without review; the plan shows the update's fields as "
                "drift"
            )
        return text


async def look_for_updates(state: StateDoc, kinds: KindRegistry) -> list[UpdateSettlement]:
    """The fate of every interrupted update of ``state`` (reads each such resource; writes
    nothing)."""
    settlements: list[UpdateSettlement] = []
    for address in sorted(state.resources):
        record = state.resources[address]
        entry = record.updating
        if entry is None:
            continue
        kind = kinds.kind(record.kind)
        live = await kind.read(record.id)
        if live is None:
            settlements.append(UpdateSettlement(record, None, "gone"))
            continue
        if live.version is not None and live.version == entry.base_version:
            settlements.append(UpdateSettlement(record, live, "forget"))
            continue
        sent = redacted_like(kind.observe(live, entry.spec), entry.spec, state.salt)
        if sent == entry.spec:
            settlements.append(UpdateSettlement(record, live, "record"))
            continue
        kept = redacted_like(kind.observe(live, record.spec), record.spec, state.salt)
        took = _shows_what_it_sent(sent, kept, record.spec, entry.spec)
        settlements.append(UpdateSettlement(record, live, "outside", kept == record.spec, took))
    return settlements


def _shows_what_it_sent(
    sent: dict[str, Any], kept: dict[str, Any], base: dict[str, Any], spec: dict[str, Any]
) -> bool:
    """Whether the engine shows every field the update changed as it sent it. ``sent`` and
    ``kept`` are the live resource observed against the entry's spec and against state's: a
    field the engine never shows is taken from each (so they differ there), and an update that
    changed such a field is never taken as seen."""
    changes = field_changes(base, spec)
    return bool(changes) and all(
        c.path.get_in(sent) == c.path.get_in(spec) and c.path.get_in(kept) == c.path.get_in(sent)
        for c in changes
    )


def settle_updates(state: StateDoc, settlements: list[UpdateSettlement]) -> StateDoc:
    """``state`` with each update that took effect recorded and every other entry dropped."""
    if not settlements:
        return state
    resources = dict(state.resources)
    for settlement in settlements:
        record, entry = settlement.record, settlement.entry
        if settlement.fate == "record":
            assert settlement.live is not None
            resources[record.address] = record.model_copy(
                update={
                    "version": settlement.live.version,
                    "spec": entry.spec,
                    "spec_digest": entry.spec_digest,
                    "references": list(entry.references),
                    "protect": entry.protect,
                    "updating": None,
                }
            )
        elif settlement.fate == "outside" and (settlement.took or settlement.unchanged):
            resources[record.address] = record.model_copy(
                update={
                    "spec": entry.spec,
                    "spec_digest": entry.spec_digest,
                    "references": list(entry.references),
                    "protect": entry.protect,
                    "updating": None,
                }
            )
        else:
            resources[record.address] = record.model_copy(update={"updating": None})
    return state.model_copy(update={"resources": resources})
