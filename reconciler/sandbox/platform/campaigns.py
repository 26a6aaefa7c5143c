"""Outbound campaigns: create, list, retrieve, ``:cancel``, ``:pause``, ``:resume`` and delete.

A campaign's status follows the sandbox clock: ``scheduled`` until its start time, then
``running``; ``paused`` while paused; ``canceled`` after ``:cancel``. It completes (or fails)
only through the control route ``POST /_sandbox/platform/campaigns/{id}/finish``: the sandbox
places no calls. While unfinished it links to its agent and numbers, which cannot be deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import checks
from .collection import DELETED, Collection
from .context import Answer, Req
from .errors import bad_reference, failure, invalid
from .listing import page, page_request
from .rules import (
    CAMPAIGN_FINISHED,
    CAMPAIGN_NAME_MAX,
    CAMPAIGN_SCHEDULE_MODES,
    CAMPAIGN_START_IN_FUTURE,
    CAMPAIGN_STATUSES,
    CREATED,
    MAX_CAMPAIGN_FROM,
)
from .store import PlatformStore, Resource, new_etag

KIND = "campaign"
CAMPAIGNS = Collection(KIND, "Campaign", "campaign_id")
"""Loads a campaign by the id in the path."""
FIELDS = ("name", "agent_id", "transport", "schedule", "contacts")


def status_of(resource: Resource, now: float) -> str:
    """The campaign's status at ``now``."""
    body = resource.body
    if body.get("final") is not None:
        return str(body["final"])
    if body.get("paused"):
        return "paused"
    return "scheduled" if now < body["start_at"] else "running"


def view_at(resource: Resource, now: float) -> dict[str, Any]:
    """The campaign as the API shows it (its contacts as a count)."""
    body = resource.body
    return {
        "campaign_id": resource.id,
        "name": body["name"],
        "status": status_of(resource, now),
        "agent_id": body["agent_id"],
        "transport": body["transport"],
        "schedule": body["schedule"],
        "contact_count": len(body["contacts"]),
        "failure": body.get("failure"),
        "create_ts": int(resource.create_ts),
        "update_ts": int(resource.update_ts),
    }


def _from(req: Req, value: Any) -> list[str]:
    ids = [value] if isinstance(value, str) else checks.array(value, "transport.from")
    for index, number_id in enumerate(ids):
        checks.string(number_id, f"transport.from[{index}]", low=1)
    if not 1 <= len(ids) <= MAX_CAMPAIGN_FROM or len(set(ids)) != len(ids):
        raise invalid("transport.from", f"1 to {MAX_CAMPAIGN_FROM} unique number_id values")
    for index, number_id in enumerate(ids):
        if req.platform.store.get(req.app_id, "number", number_id) is None:
            raise bad_reference(
                f"transport.from[{index}]", f"phone number {number_id} does not exist"
            )
    return list(ids)


def _start_at(schedule: dict[str, Any], now: float) -> float:
    mode = schedule.get("mode")
    if mode not in CAMPAIGN_SCHEDULE_MODES:
        raise invalid("schedule.mode", f"must be one of {', '.join(CAMPAIGN_SCHEDULE_MODES)}")
    if mode == "immediate":
        return now
    zone_name = checks.string(schedule.get("time_zone"), "schedule.time_zone", low=1)
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("schedule.time_zone", "must be an IANA time zone") from None
    text = checks.string(schedule.get("start_time"), "schedule.start_time", low=1)
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise invalid("schedule.start_time", "must be a local ISO 8601 time") from None
    if local.tzinfo is not None:
        raise invalid("schedule.start_time", "a local time, without an offset")
    start = local.replace(tzinfo=zone).timestamp()
    if CAMPAIGN_START_IN_FUTURE and start <= now:
        raise invalid("schedule.start_time", "must be in the future")
    return start


def create(req: Req) -> Answer:
    """POST /campaigns (201). With ``schedule.mode: immediate`` it runs at once."""
    body = req.json_object()
    checks.no_unknown(body, FIELDS, "")
    for key in FIELDS:
        if key not in body:
            raise invalid(key, "field required")
    name = checks.string(body["name"], "name", low=1, high=CAMPAIGN_NAME_MAX)
    agent_id = checks.string(body["agent_id"], "agent_id", low=1)
    store = req.platform.store
    agent = store.get(req.app_id, "agent", agent_id)
    if agent is None:
        raise bad_reference("agent_id", f"agent {agent_id} does not exist")
    transport = checks.obj(body["transport"], "transport")
    checks.no_unknown(transport, ("type", "from", "call_policy"), "transport.")
    if transport.get("type") != "telephony":
        raise invalid("transport.type", "must be telephony")
    numbers = _from(req, transport.get("from"))
    policy = checks.obj(transport.get("call_policy", {}), "transport.call_policy")
    for key, item in policy.items():
        if key.endswith(("_seconds", "_ms")):
            checks.integer(item, f"transport.call_policy.{key}", low=1)
    schedule = checks.obj(body["schedule"], "schedule")
    contacts = checks.array(body["contacts"], "contacts")
    if not contacts:
        raise invalid("contacts", "a campaign needs at least one contact")
    for index, contact in enumerate(contacts):
        checks.obj(contact, f"contacts[{index}]")
        checks.no_unknown(contact, ("number", "values"), f"contacts[{index}].")
        checks.e164_digits(contact.get("number"), f"contacts[{index}].number")
        if "values" in contact:
            checks.variable_values(contact["values"], agent.body, f"contacts[{index}].values")
    with store.store.transaction():
        now = req.platform.now()
        stored = {
            "name": name,
            "agent_id": agent_id,
            "transport": {"type": "telephony", "from": numbers, "call_policy": policy},
            "schedule": schedule,
            "start_at": _start_at(schedule, now),
            "contacts": contacts,
            "paused": False,
            "final": None,
            "failure": None,
        }
        resource = Resource(req.app_id, KIND, req.platform.new_uuid(), new_etag(), now, now, stored)
        store.put(resource, [f"agent:{agent_id}", *(f"number:{n}" for n in numbers)])
    return Answer(view_at(resource, now), CREATED)


def list_campaigns(req: Req) -> Answer:
    """GET /campaigns (filter ``status``)."""
    status = req.query.get("status")
    if status is not None and status not in CAMPAIGN_STATUSES:
        raise invalid("status", f"must be one of {', '.join(CAMPAIGN_STATUSES)}")
    now = req.platform.now()

    def shown(resource: Resource) -> dict[str, Any] | None:
        item = view_at(resource, now)
        return item if status is None or item["status"] == status else None

    request = page_request(
        req.platform.store, KIND, req.query, lambda: {"status": status} if status else {}
    )
    return Answer(page(req.platform.store, req.app_id, request, shown))


def retrieve(req: Req) -> Answer:
    """GET /campaigns/{campaign_id} (UNCONFIRMED: the endpoint was not captured)."""
    return Answer(view_at(CAMPAIGNS.load(req), req.platform.now()))


def finish(store: PlatformStore, resource: Resource, final: str, now: float) -> None:
    """End a campaign for good (``completed``, ``failed`` or ``canceled``): it no longer holds
    its agent and numbers."""
    resource.body["final"] = final
    resource.etag = new_etag()
    resource.update_ts = now
    store.put(resource, [])


def action(req: Req) -> Answer:
    """POST /campaigns/{campaign_id}:cancel | :pause | :resume."""
    ident, sep, verb = req.params["campaign_action"].rpartition(":")
    if not sep or verb not in ("cancel", "pause", "resume"):
        raise failure("MethodNotAllowed", "POST a campaign with :cancel, :pause or :resume.")
    req = Req(
        req.platform,
        req.app_id,
        {**req.params, "campaign_id": ident},
        req.query,
        req.headers,
        req.raw,
        req.operation,
    )
    store = req.platform.store
    with store.store.transaction():
        resource = CAMPAIGNS.load(req)
        now = req.platform.now()
        status = status_of(resource, now)
        if status in CAMPAIGN_FINISHED:
            raise failure("CampaignFinished", f"Campaign {ident} has finished ({status}).")
        if verb == "cancel":
            finish(store, resource, "canceled", now)
        else:
            if (verb == "pause") == (status == "paused"):
                raise invalid("", f"Campaign {ident} is {status}; it can't {verb}.")
            resource.body["paused"] = verb == "pause"
            resource.update_ts = now
            store.put(resource)
    return Answer(view_at(resource, now))


def delete(req: Req) -> Answer:
    """DELETE /campaigns/{campaign_id}: only a finished campaign."""
    store = req.platform.store
    with store.store.transaction():
        resource = CAMPAIGNS.load(req)
        status = status_of(resource, req.platform.now())
        if status not in CAMPAIGN_FINISHED:
            raise failure(
                "CampaignNotFinished",
                f"Campaign {resource.id} is {status}. Cancel it first.",
            )
        store.delete(req.app_id, KIND, resource.id)
    return Answer(DELETED)
