"""Agora's notification events (NCS webhooks) as ``watch`` receives them: the signature check,
the envelope and the bounded memory of notices already seen.

A notification is a JSON body ``{noticeId, productId, eventType, notifyMs, sid, payload}``
POSTed with ``Agora-Signature`` (HMAC-SHA1 of the raw body with the project's NCS secret, hex)
and ``Agora-Signature-V2`` (HMAC-SHA256, hex); docs/engine-api.md ("Notification events") has
the details. Pure functions and one small class; the listener (:mod:`reconciler.watch.receiver`)
decides what to do with an event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ACTIONABLE",
    "EVENT_TYPES",
    "PRODUCT_ID",
    "Notice",
    "NoticeError",
    "NoticeMemory",
    "parse_notice",
    "signature_problem",
]

PRODUCT_ID = 17
"""``productId`` of Conversational AI notifications. A project's NCS notifies other products too,
with the same envelope, signatures and overlapping numbers (RTC's channel events are productId
1, numbered from 101 up too: a channel created or destroyed, a user joining or leaving): an
event type means what :data:`EVENT_TYPES` says only under this product."""
SIGNATURE_V1 = "agora-signature"
SIGNATURE_V2 = "agora-signature-v2"
EVENT_TYPES: dict[int, str] = {
    101: "agent joined",
    102: "agent left",
    103: "agent history",
    104: "agent token expiring",
    110: "agent error",
    111: "agent metrics",
    201: "inbound call state",
    202: "outbound call state",
    1001: "session state changed",
    1002: "session transcripts",
    1003: "session error",
    1004: "turns finished",
    1101: "RTC token expiring",
    1201: "telephony state",
}
"""Every event type Agora documents for the Conversational AI Engine and Platform
(docs/engine-api.md, "Notification events"): the ones ``watch``'s metrics count by number."""
ACTIONABLE: dict[int, str] = {
    102: "agent left",
    104: "agent token expiring",
}
"""Engine events after which an agent needs healing: a reconcile runs at once. 110 (agent
error) is not one: a module error does not end the agent, and when it does, 102 follows."""


class NoticeError(ValueError):
    """A verified body that is not a notification envelope."""


def _digest(secret: str, body: bytes, algorithm: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, algorithm).hexdigest()


def signature_problem(secret: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    """None when ``body`` is signed with ``secret``; else why not (``missing``, ``bad``).

    ``headers`` are keyed in lower case. The SHA-256 header is checked when present, else the
    SHA-1 one; hex digits compare case-insensitively and in constant time.
    """
    for name, algorithm in ((SIGNATURE_V2, hashlib.sha256), (SIGNATURE_V1, hashlib.sha1)):
        given = headers.get(name)
        if given is None:
            continue
        expected = _digest(secret, body, algorithm().name)
        if hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            return None
        return "bad_signature"
    return "missing_signature"


@dataclass(frozen=True)
class Notice:
    """What ``watch`` reads from a notification."""

    notice_id: str
    event_type: int
    agent_id: str | None
    """The engine agent the event is about (``payload.agent_id``), if any."""
    product_id: int | None = PRODUCT_ID
    """``productId`` (None when absent or not an integer)."""

    @property
    def conversational_ai(self) -> bool:
        """Whether it is a Conversational AI notification (``productId`` 17); only then does its
        event type mean what :data:`EVENT_TYPES` says."""
        return self.product_id == PRODUCT_ID

    @property
    def documented_type(self) -> int | None:
        """Its event type when Agora documents it for Conversational AI, else None."""
        if self.conversational_ai and self.event_type in EVENT_TYPES:
            return self.event_type
        return None

    @property
    def actionable(self) -> bool:
        return self.conversational_ai and self.event_type in ACTIONABLE


def parse_notice(body: bytes) -> Notice:
    """The notice in a (verified) body; raises :class:`NoticeError` if it is not one."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise NoticeError("not JSON") from None
    except RecursionError:  # nested deeper than the JSON decoder recurses
        raise NoticeError("nested too deeply") from None
    if not isinstance(value, dict):
        raise NoticeError("not a JSON object")
    notice_id, event_type = value.get("noticeId"), value.get("eventType")
    if not isinstance(notice_id, str) or not notice_id:
        raise NoticeError("no noticeId")
    if isinstance(event_type, bool) or not isinstance(event_type, int):
        raise NoticeError("no eventType")
    product_id = value.get("productId")
    if isinstance(product_id, bool) or not isinstance(product_id, int):
        product_id = None
    payload = value.get("payload")
    agent_id = None
    if isinstance(payload, dict):
        found = payload.get("agent_id", payload.get("agentId"))
        agent_id = found if isinstance(found, str) and found else None
    return Notice(
        notice_id=notice_id, event_type=event_type, agent_id=agent_id, product_id=product_id
    )


class NoticeMemory:
    """The last ``size`` notice ids seen (a replay of one of them is a duplicate)."""

    def __init__(self, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first_time(self, notice_id: str) -> bool:
        """Remember ``notice_id``; True unless it was already remembered."""
        if notice_id in self._seen:
            self._seen.move_to_end(notice_id)
            return False
        self._seen[notice_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True
