"""Sessions: start from a saved agent, start an ephemeral one, list, retrieve, update (RTC token,
message and LLM overrides) and stop.

Starting and stopping are asynchronous, as documented: a session is STARTING for the sandbox's
``start_delay_s``, then RUNNING; after a stop it is STOPPING for ``stop_delay_s``, then STOPPED
with ``stop_ts``. A session resolves its agent's secret references when it starts and keeps
those versions (the key ETags are recorded; values are never stored).
"""

from __future__ import annotations

from typing import Any

from .. import wire
from . import agents, checks
from .collection import Collection
from .context import Answer, Req
from .errors import bad_reference, failure, invalid
from .listing import page, page_request
from .rules import (
    CHANNEL_MAX,
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_TTL_S,
    PIPELINE_STAGES,
    SECRET_REF_RE,
    SESSION_DEFAULT_STATUS_FILTER,
    SESSION_LIST_WINDOW_S,
    SESSION_STATUSES,
    STOP_OF_STOPPED_IS_NOOP,
)
from .store import Resource, new_etag

KIND = "session"
SESSIONS = Collection(KIND, "Session", "session_id")
"""Loads a session by the id in the path."""
IDEMPOTENCY = "idempotency_key"
ACTIVE = ("STARTING", "RUNNING")


def status_of(
    now: float, resource: Resource, start_delay: float, stop_delay: float
) -> tuple[str, float | None]:
    """The status of a session at ``now`` and its stop time (None while active)."""
    body = resource.body
    if body.get("failed_at") is not None:
        return "FAILED", body["failed_at"]
    stop = body.get("stop_requested_at")
    if stop is not None:
        if now < stop + stop_delay:
            return "STOPPING", None
        return "STOPPED", stop + stop_delay
    if now < resource.create_ts + start_delay:
        return "STARTING", None
    return "RUNNING", None


def _status(req: Req, resource: Resource) -> tuple[str, float | None]:
    settings = req.platform.sandbox.settings
    return status_of(req.platform.now(), resource, settings.start_delay_s, settings.stop_delay_s)


def view_at(req: Req, resource: Resource) -> dict[str, Any]:
    """The session as the API shows it (no token)."""
    status, stop_ts = _status(req, resource)
    body = resource.body
    transport = {k: v for k, v in body["transport"].items() if k != "token"}
    return {
        "agent_session_id": resource.id,
        "agent_id": body.get("agent_id"),
        "agent_name": body.get("agent_name"),
        "status": status,
        "start_ts": int(resource.create_ts),
        "stop_ts": int(stop_ts) if stop_ts is not None else None,
        "message": body.get("message"),
        "transport": transport,
    }


def _transport(req: Req, value: Any) -> dict[str, Any]:
    transport = checks.obj(value, "transport")
    kind = transport.get("type")
    if kind == "rtc":
        checks.no_unknown(transport, ("type", "channel", "token", "uid"), "transport.")
        if "channel" not in transport:
            raise invalid("transport.channel", "field required")
        checks.string(transport["channel"], "transport.channel", low=1, high=CHANNEL_MAX)
        if "token" in transport:
            checks.string(transport["token"], "transport.token", low=1)
        elif req.platform.sandbox.config.app_certificate is not None:
            raise invalid("transport.token", "required: the project has an App Certificate")
        uid = transport.get("uid")
        if uid is not None and (isinstance(uid, bool) or not isinstance(uid, (str, int))):
            raise invalid("transport.uid", "must be a string or an integer")
        return transport
    if kind == "telephony":
        checks.no_unknown(transport, ("type", "from", "to"), "transport.")
        for key in ("from", "to"):
            if key not in transport:
                raise invalid(f"transport.{key}", "field required")
        number_id = checks.string(transport["from"], "transport.from", low=1)
        if req.platform.store.get(req.app_id, "number", number_id) is None:
            raise bad_reference("transport.from", f"phone number {number_id} does not exist")
        checks.e164_digits(transport["to"], "transport.to")
        return transport
    raise invalid("transport.type", "must be rtc or telephony")


def _resolved(req: Req, config: dict[str, Any]) -> dict[str, str]:
    """The key ETag of every secret reference the configuration resolves now."""
    versions: dict[str, str] = {}
    for stage in PIPELINE_STAGES:
        body = config.get(stage)
        credential = body.get("credential") if isinstance(body, dict) else None
        fields = credential.get("fields", {}) if isinstance(credential, dict) else {}
        for value in fields.values():
            match = SECRET_REF_RE.fullmatch(value) if isinstance(value, str) else None
            if match is None:
                continue
            secret_set = req.platform.store.get(req.app_id, "secret_set", match.group(1))
            entry = secret_set.body["keys"].get(match.group(2)) if secret_set else None
            if entry is None:
                raise bad_reference(
                    f"{stage}.credential.fields", f"{match.group(0)} does not exist"
                )
            versions[match.group(0)] = entry["etag"]
    return versions


START_FIELDS = ("transport", "values", "lifecycle")
"""The fields of a start body beside its agent (``agent_id``, or ``agent`` when ephemeral)."""


def _start(req: Req, body: dict[str, Any], config: dict[str, Any], agent_id: str | None) -> Answer:
    if "transport" not in body:
        raise invalid("transport", "field required")
    transport = _transport(req, body["transport"])
    values = checks.variable_values(body.get("values", {}), config, "values")
    if "lifecycle" in body:
        checks.obj(body["lifecycle"], "lifecycle")
    store = req.platform.store
    key = req.header("idempotency-key")
    with store.store.transaction():
        now = req.platform.now()
        if key is not None:
            checks.string(key, "Idempotency-Key", low=1, high=IDEMPOTENCY_KEY_MAX)
            seen = store.get(req.app_id, IDEMPOTENCY, key)
            if seen is not None and now - seen.create_ts < IDEMPOTENCY_KEY_TTL_S:
                raise failure(
                    "IdempotencyKeyConflict",
                    "A session was already started with this Idempotency-Key. List sessions "
                    "to find it.",
                )
        session = Resource(
            req.app_id,
            KIND,
            req.platform.new_session_id(),
            new_etag(),
            now,
            now,
            {
                "agent_id": agent_id,
                "agent_name": config.get("agent_name"),
                "transport": transport,
                "values": values,
                "lifecycle": body.get("lifecycle"),
                "secret_versions": _resolved(req, config),
                "idempotency_key": key,
                "runtime_changes": True,
                "updates": [],
            },
        )
        store.put(session, [])
        if key is not None:
            store.put(
                Resource(
                    req.app_id, IDEMPOTENCY, key, new_etag(), now, now, {"session": session.id}
                )
            )
    return Answer(view_at(req, session), 200)


def start(req: Req) -> Answer:
    """POST /sessions: run a saved agent (200, not 201, as documented)."""
    body = req.json_object()
    if "agent_id" not in body:
        raise invalid("agent_id", "field required")
    agent_id = checks.string(body["agent_id"], "agent_id", low=1)
    checks.no_unknown(body, ("agent_id", *START_FIELDS), "")
    agent = req.platform.store.get(req.app_id, "agent", agent_id)
    if agent is None:
        raise bad_reference("agent_id", f"agent {agent_id} does not exist")
    return _start(req, body, agent.body, agent_id)


def start_ephemeral(req: Req) -> Answer:
    """POST /sessions/ephemeral: run a configuration given inline (not saved)."""
    body = req.json_object()
    if "agent_id" in body:
        raise invalid("agent_id", "an ephemeral session takes agent, not agent_id")
    if "agent" not in body:
        raise invalid("agent", "field required")
    checks.no_unknown(body, ("agent", *START_FIELDS), "")
    config = checks.obj(body["agent"], "agent")
    agents.check_config(req, config, saved=False)
    return _start(req, body, config, None)


def retrieve(req: Req) -> Answer:
    """GET /sessions/{agent_session_id}."""
    return Answer(view_at(req, SESSIONS.load(req)))


def _filters(req: Req) -> dict[str, Any]:
    query = req.query
    statuses = [s for s in query.get("status", "").split(",") if s] or list(
        SESSION_DEFAULT_STATUS_FILTER
    )
    for status in statuses:
        if status not in SESSION_STATUSES:
            raise invalid("status", f"unknown status {status}")
    after = query.get("started_after")
    started_after = int(req.platform.now()) - SESSION_LIST_WINDOW_S
    if after is not None:
        value = wire.integer(after.strip(), signed=True)
        if value is None:
            raise invalid("started_after", "must be Unix seconds")
        started_after = value
    filters: dict[str, Any] = {"status": statuses, "started_after": started_after}
    if query.get("channel"):
        filters["channel"] = query["channel"]
    return filters


def list_sessions(req: Req) -> Answer:
    """GET /sessions: filters ``channel``, ``status`` (default RUNNING) and ``started_after``
    (default: two hours ago); later pages keep the first page's filters."""
    request = page_request(req.platform.store, KIND, req.query, lambda: _filters(req))
    wanted = request.filters

    def shown(resource: Resource) -> dict[str, Any] | None:
        if resource.create_ts < wanted["started_after"]:
            return None
        if "channel" in wanted and resource.body["transport"].get("channel") != wanted["channel"]:
            return None
        item = view_at(req, resource)
        return item if item["status"] in wanted["status"] else None

    return Answer(page(req.platform.store, req.app_id, request, shown))


def update(req: Req) -> Answer:
    """PATCH /sessions/{agent_session_id}: a new RTC token, or message/LLM overrides."""
    patch = req.json_object()
    checks.no_unknown(patch, ("transport", "agent"), "")
    store = req.platform.store
    with store.store.transaction():
        resource = SESSIONS.load(req)
        if _status(req, resource)[0] not in ACTIVE:
            raise failure("SessionNotActive", f"Session {resource.id} is not running.")
        body = resource.body
        if "transport" in patch:
            transport = checks.obj(patch["transport"], "transport")
            checks.no_unknown(transport, ("token",), "transport.")
            if "token" in transport:
                checks.string(transport["token"], "transport.token", low=1)
                if "token" not in body["transport"]:
                    raise invalid(
                        "transport.token", "applies only to sessions started with a token"
                    )
                body["transport"]["token"] = transport["token"]
        if "agent" in patch:
            agent = checks.obj(patch["agent"], "agent")
            checks.no_unknown(agent, ("overrides",), "agent.")
            overrides = checks.obj(agent.get("overrides", {}), "agent.overrides")
            checks.no_unknown(overrides, ("messages", "llm"), "agent.overrides.")
            if "messages" in overrides:
                agents.check_config(req, {"messages": overrides["messages"]}, saved=False)
            if "llm" in overrides:
                llm = checks.obj(overrides["llm"], "agent.overrides.llm")
                checks.no_unknown(llm, ("params",), "agent.overrides.llm.")
                checks.obj(llm.get("params", {}), "agent.overrides.llm.params")
            if overrides and not body.get("runtime_changes", True):
                raise failure(
                    "NotImplemented",
                    "The session's provider can't apply this change; the session is unchanged.",
                )
        body["updates"].append({"at": req.platform.now(), "fields": sorted(patch)})
        resource.update_ts = req.platform.now()
        store.put(resource)
    return Answer(view_at(req, resource))


def stop(req: Req) -> Answer:
    """POST /sessions/{agent_session_id}/stop: asynchronous; ``{}`` (stopping again is a
    no-op, UNCONFIRMED)."""
    store = req.platform.store
    with store.store.transaction():
        resource = SESSIONS.load(req)
        if _status(req, resource)[0] not in ACTIVE:
            if not STOP_OF_STOPPED_IS_NOOP:
                raise failure("SessionNotActive", f"Session {resource.id} is not running.")
        else:
            resource.body["stop_requested_at"] = req.platform.now()
            resource.update_ts = req.platform.now()
            store.put(resource)
    return Answer({})
