"""Phone numbers: create, list, retrieve, update (PATCH; ``sip_trunk`` and ``inbound`` replaced
whole; the number itself immutable; If-Match required) and delete.

``sip_trunk.auth`` is write-only: kept, never returned. ``inbound.agent`` must name an existing
agent; the number then links to it, so the agent cannot be deleted while the number routes
to it.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import ApiFailure
from . import checks
from .collection import Referrers, VersionedCollection
from .context import Answer, Req
from .errors import bad_reference, failure, invalid
from .rules import (
    NUMBERS_UNIQUE,
    SIP_DEFAULT_PORTS,
    SIP_DEFAULT_TRANSPORT,
    SIP_TRANSPORTS,
    TRUNK_NAME_MAX,
)
from .store import Resource

KIND = "number"
FIELDS = ("number", "description", "sip_trunk", "inbound")
TRUNK_FIELDS = ("name", "hostname", "port", "transport", "auth", "allowed_ips")


def view(resource: Resource) -> dict[str, Any]:
    """The number as the API shows it: no SIP credentials; the port filled in."""
    body = copy.deepcopy(resource.body)
    trunk = body["sip_trunk"]
    trunk.pop("auth", None)
    trunk.setdefault("port", SIP_DEFAULT_PORTS[trunk.get("transport", SIP_DEFAULT_TRANSPORT)])
    return {
        "number_id": resource.id,
        "number": body["number"],
        "description": body.get("description"),
        "sip_trunk": trunk,
        "inbound": body.get("inbound"),
        "create_ts": int(resource.create_ts),
        "update_ts": int(resource.update_ts),
    }


NUMBERS = VersionedCollection(KIND, "Phone number", "number_id", view)
"""The shared shape: load, create, answer, list, retrieve, write, delete."""


def _trunk(value: Any) -> dict[str, Any]:
    trunk = checks.obj(value, "sip_trunk")
    checks.no_unknown(trunk, TRUNK_FIELDS, "sip_trunk.")
    if "name" in trunk:
        checks.string(trunk["name"], "sip_trunk.name", low=1, high=TRUNK_NAME_MAX)
    if "hostname" not in trunk:
        raise invalid("sip_trunk.hostname", "field required")
    host = checks.string(trunk["hostname"], "sip_trunk.hostname", low=1, high=253)
    if any(ch in host for ch in ":/@ "):
        raise invalid("sip_trunk.hostname", "a hostname without a scheme or port")
    transport = trunk.get("transport", SIP_DEFAULT_TRANSPORT)
    if transport not in SIP_TRANSPORTS:
        raise invalid("sip_trunk.transport", f"must be one of {', '.join(SIP_TRANSPORTS)}")
    if "port" in trunk:
        checks.integer(trunk["port"], "sip_trunk.port", low=1, high=65535)
    if "auth" in trunk:
        auth = checks.obj(trunk["auth"], "sip_trunk.auth")
        checks.no_unknown(auth, ("username", "password"), "sip_trunk.auth.")
        for key in ("username", "password"):
            if key not in auth:
                raise invalid(f"sip_trunk.auth.{key}", "field required")
            checks.string(auth[key], f"sip_trunk.auth.{key}", low=1)
        if checks.has_secret_ref(auth["password"]):
            raise invalid("sip_trunk.auth.password", "secret set references aren't supported here")
    if "allowed_ips" in trunk:
        for index, item in enumerate(checks.array(trunk["allowed_ips"], "sip_trunk.allowed_ips")):
            checks.ip_or_cidr(item, f"sip_trunk.allowed_ips[{index}]")
    return trunk


def _inbound(req: Req, value: Any) -> tuple[dict[str, Any] | None, list[str]]:
    if value is None:
        return None, []
    inbound = checks.obj(value, "inbound")
    checks.no_unknown(inbound, ("agent", "call_policy"), "inbound.")
    agent = inbound.get("agent")
    if agent is None:
        if "call_policy" in inbound:
            checks.obj(inbound["call_policy"], "inbound.call_policy")
        return inbound, []
    checks.string(agent, "inbound.agent", low=1)
    if req.platform.store.get(req.app_id, "agent", agent) is None:
        raise bad_reference("inbound.agent", f"agent {agent} does not exist")
    if "call_policy" not in inbound:
        raise invalid("inbound.call_policy", "is required when inbound.agent is set")
    policy = checks.obj(inbound["call_policy"], "inbound.call_policy")
    for key, item in policy.items():
        if key.endswith(("_seconds", "_ms")):
            checks.integer(item, f"inbound.call_policy.{key}", low=1)
    return inbound, [f"agent:{agent}"]


def _refuse_duplicate(req: Req, digits: str, own: str | None) -> None:
    if not NUMBERS_UNIQUE:
        return
    for other in req.platform.store.scan(req.app_id, KIND):
        if other.id != own and other.body.get("digits") == digits:
            raise failure("NumberAlreadyExists", f"The number {digits} exists as {other.id}.")


def create(req: Req) -> Answer:
    """POST /numbers (201)."""
    body = req.json_object()
    checks.no_unknown(body, FIELDS, "")
    if "number" not in body:
        raise invalid("number", "field required")
    digits = checks.e164_digits(body["number"], "number")
    if body.get("description") is not None:
        checks.string(body["description"], "description")
    if "sip_trunk" not in body:
        raise invalid("sip_trunk", "field required")
    trunk = _trunk(body["sip_trunk"])
    store = req.platform.store
    with store.store.transaction():
        inbound, links = _inbound(req, body.get("inbound"))
        _refuse_duplicate(req, digits, None)
        stored = {
            "number": body["number"],
            "digits": digits,
            "sip_trunk": trunk,
            "inbound": inbound,
        }
        if body.get("description") is not None:
            stored["description"] = body["description"]
        return NUMBERS.create(req, stored, links)


def update(req: Req) -> Answer:
    """PATCH /numbers/{number_id} (If-Match required)."""
    patch = req.json_object()
    checks.no_unknown(patch, FIELDS, "")
    for key in ("number", "description", "sip_trunk"):
        if key in patch and patch[key] is None:
            raise invalid(key, "can't be null")
    store = req.platform.store
    with store.store.transaction():
        resource = NUMBERS.load_current(req)
        body = copy.deepcopy(resource.body)
        links: list[str] | None = None
        if "number" in patch:
            if checks.e164_digits(patch["number"], "number") != body["digits"]:
                raise invalid(
                    "number", "you can reformat the number but not change it; create a new one"
                )
            body["number"] = patch["number"]
        if "description" in patch:
            body["description"] = checks.string(patch["description"], "description")
        if "sip_trunk" in patch:
            body["sip_trunk"] = _trunk(patch["sip_trunk"])
        if "inbound" in patch:
            body["inbound"], links = _inbound(req, patch["inbound"])
        NUMBERS.write(req, resource, body, links)
    return NUMBERS.answer(resource)


def delete(req: Req) -> Answer:
    """DELETE /numbers/{number_id}: refused while an unfinished campaign calls from it."""
    return NUMBERS.delete(req, _in_use)


def _in_use(resource: Resource, users: Referrers) -> ApiFailure:
    return failure(
        "NumberInUse",
        f"Phone number {resource.id} is used by unfinished campaign {users[0][1]}.",
    )
