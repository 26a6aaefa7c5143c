"""The engine operations (docs/engine-api.md): join, leave, update, get, list, history, turns,
speak, interrupt, think. Each takes already-authenticated input and returns the JSON answer (or
None for leave's empty body), raising `ApiFailure` for engine errors.

Decisions where the real behaviour is unconfirmed (docs/engine-api.md lists them):

* Name uniqueness is among *active* agents of a channel (`name_scope: channel`, the default, as
  documented) or of the App ID (`name_scope: app`): 409 `TaskConflict`, whose body names the
  holder (`agent_id`). A name is free again once its agent is STOPPED or FAILED.
* `pipeline_id`: the registered pipeline's properties under the join's own (`pipelines.py`);
  an unknown one is 400 `InvalidFieldValue`.
* update changes only what the engine changes live (token, llm.system_messages, llm.params,
  mllm.params); any other key under `properties` is refused with 400 `InvalidRequestBody`, and
  a token that the strict check refuses with 400 `InvalidFieldValue`.
* PCU: join answers 422 (`concurrency_reason`) when the App ID's active agents reach the limit.
* leave, update: 404 unless STARTING, RUNNING, RECOVERING or IDLE; speak, interrupt, think,
  history: 404 unless RUNNING; speak on an MLLM agent: 400 `InvalidRequestBody`.
* GET and list keep an ended agent for `get_retention_s` (7 days) after it stopped, then 404.
* list: default window the last 2 hours, `state` 2 (RUNNING), order of creation, `limit` 20;
  the cursor is the agent id the next page starts at, "" on the last page; an unknown cursor is 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import wire
from .config import DEFAULT_IDLE_TIMEOUT_S
from .core import Sandbox
from .errors import ApiFailure, invalid, not_found
from .lifecycle import CODE_STATUSES, expired, refresh, view
from .pipelines import apply_pipeline
from .presence import occupied_uids
from .store import AgentRecord, ListWindow, dumps
from .validation import (
    parse_body,
    parse_list_query,
    validate_join,
    validate_speak,
    validate_think,
    validate_update,
)

DEFAULT_MAX_HISTORY = 32
#: list only covers agents created within the last 7 days.
LIST_SCOPE_S = 7 * 86400.0
TURNS_DEFAULT_PAGE_SIZE = 20
#: A list `limit` beyond this pages as this would (no store holds that many agents); the store
#: asks SQLite for `limit` + 1 rows, which must fit its 64-bit integers.
LIST_LIMIT_CAP = 2**62


def join(sb: Sandbox, app_id: str, raw: bytes) -> dict[str, Any]:
    """POST /join: 200 `{agent_id, create_ts, status}`."""
    body = apply_pipeline(sb, app_id, parse_body(raw))
    request = validate_join(body, require_token=sb.require_token())
    settings = sb.settings
    with sb.store.transaction():
        now = sb.now()
        scope = request.channel if settings.name_scope == "channel" else None
        holders = sb.store.active_with_name(app_id, request.name, now, scope)
        if holders:
            raise ApiFailure(
                409,
                "TaskConflict",
                "create agent failed: agent with same name exists",
                extra={"agent_id": holders[0].agent_id},
            )
        if sb.store.count_active(app_id, now) >= settings.pcu_limit:
            raise ApiFailure(
                422,
                settings.concurrency_reason,
                f"create agent failed: concurrency limit of {settings.pcu_limit} agents reached",
            )
        props = request.properties
        history = []
        greeting = (props.get("llm") or props.get("mllm") or {}).get("greeting_message")
        if isinstance(greeting, str) and greeting:
            history.append(
                {"role": "assistant", "content": greeting, "at": now, "kind": "greeting"}
            )
        idle = request.idle_timeout
        record = AgentRecord(
            app_id=app_id,
            agent_id=sb.new_agent_id(),
            name=request.name,
            channel=request.channel,
            mode=request.mode,
            created_at=now,
            running_at=now + settings.start_delay_s,
            stop_delay_s=settings.stop_delay_s,
            max_runtime_s=settings.max_runtime_s,
            idle_timeout=DEFAULT_IDLE_TIMEOUT_S if idle is None else idle,
            stop_requested_at=None,
            users_left_at=None,
            failed_at=None,
            fail_message=None,
            token_issued_at=None,
            token_expires_at=None,
            token_verified=None,
            terminal_at=0.0,
            join_body=raw.decode("utf-8"),
            properties=dumps(props),
            updates="[]",
            history=dumps(history),
            agent_uid=request.agent_uid,
            remote_uids=dumps(request.remote_uids),
        )
        info = sb.token_info(
            app_id, request.token, now, channel=request.channel, uid=request.agent_uid
        )
        sb.apply_token(record, info, now)
        refresh(record)
        if sb.store.mark_channel(app_id, request.channel, now) and settings.presence == "occupied":
            sb.store.add_present(app_id, request.channel, occupied_uids(record), now)
        sb.settle_channel(app_id, request.channel, now, (record,), (record,))
        sb.store.insert(record)
    return {
        "agent_id": record.agent_id,
        "create_ts": int(record.created_at),
        "status": view(record, now).status,
    }


def _agent(sb: Sandbox, app_id: str, agent_id: str, allowed: frozenset[str]) -> AgentRecord:
    record = sb.store.get(app_id, agent_id)
    if record is None or view(record, sb.now()).status not in allowed:
        raise not_found()
    return record


_STARTING_OR_RUNNING = frozenset({"STARTING", "RUNNING", "RECOVERING", "IDLE"})
_RUNNING = frozenset({"RUNNING"})


def leave(sb: Sandbox, app_id: str, agent_id: str) -> None:
    """POST /agents/{id}/leave: 200 with an empty body; STOPPING, then STOPPED."""
    with sb.store.transaction():
        record = _agent(sb, app_id, agent_id, _STARTING_OR_RUNNING)
        now = sb.now()
        record.stop_requested_at = now
        sb.save(record)
        sb.settle_channel(app_id, record.channel, now, seeds=(record,))


def update(sb: Sandbox, app_id: str, agent_id: str, raw: bytes) -> dict[str, Any]:
    """POST /agents/{id}/update: replaces token, llm.params, llm.system_messages, mllm.params.

    An empty body (what the SDK sends when `properties` is omitted) is a no-op update. A token
    the strict check refuses (another channel or uid, expired, forged) answers 400
    `InvalidFieldValue` and changes nothing.
    """
    body = parse_body(raw, empty_ok=True)
    request = validate_update(body)
    with sb.store.transaction():
        record = _agent(sb, app_id, agent_id, _STARTING_OR_RUNNING)
        now = sb.now()
        props = record.properties_obj()
        if request.token is not None:
            uid = record.agent_uid or str(props.get("agent_rtc_uid", ""))
            info = sb.token_info(app_id, request.token, now, channel=record.channel, uid=uid)
            if info.problem is not None:
                raise invalid("properties.token", info.problem)
            props["token"] = request.token
            sb.apply_token(record, info, now)
        if request.llm_params is not None or request.system_messages is not None:
            llm = props.setdefault("llm", {})
            if request.llm_params is not None:
                llm["params"] = request.llm_params
            if request.system_messages is not None:
                llm["system_messages"] = request.system_messages
        if request.mllm_params is not None:
            props.setdefault("mllm", {})["params"] = request.mllm_params
        record.properties = dumps(props)
        updates = record.updates_list()
        updates.append({"at": now, "body": json.loads(raw) if raw.strip() else {}})
        record.updates = dumps(updates)
        sb.save(record)
        if request.token is not None:
            sb.settle_channel(app_id, record.channel, now, seeds=(record,))
        status = view(record, now).status
    return {"agent_id": record.agent_id, "create_ts": int(record.created_at), "status": status}


def get(sb: Sandbox, app_id: str, agent_id: str) -> dict[str, Any]:
    """GET /agents/{id}: `{message, start_ts, stop_ts, status, agent_id, name}`."""
    record = sb.store.get(app_id, agent_id)
    now = sb.now()
    if record is None or expired(record, now, sb.settings.get_retention_s):
        raise not_found()
    state = view(record, now)
    return {
        "message": state.message,
        "start_ts": int(record.created_at),
        "stop_ts": int(state.stop_at) if state.stop_at is not None else 0,
        "status": state.status,
        "agent_id": record.agent_id,
        "name": record.name,
    }


def list_agents(sb: Sandbox, app_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /agents: one page of `{start_ts, status, agent_id}` with `meta.cursor`/`meta.total`.

    The store filters, counts and pages (`Store.list_page`): a page reads only its own agents
    from the cursor on, whatever the number of agents in the window.
    """
    now = sb.now()
    query = parse_list_query(params, now)
    from_seq = 0
    if query.cursor is not None:
        anchor = sb.store.get(app_id, query.cursor)
        if anchor is None:
            raise invalid("cursor", "unknown cursor")
        from_seq = anchor.seq
    window = ListWindow(
        app_id,
        now,
        channel=query.channel,
        from_time=max(query.from_time, now - LIST_SCOPE_S),
        to_time=query.to_time,
        retention_s=sb.settings.get_retention_s,
        states=query.states,
    )
    limit = min(query.limit, LIST_LIMIT_CAP)
    total, rows = sb.store.list_page(window, from_seq=from_seq, limit=limit)
    page = rows[:limit]
    return {
        "data": {
            "count": len(page),
            "list": [
                {"start_ts": int(created_at), "status": CODE_STATUSES[code], "agent_id": agent_id}
                for agent_id, created_at, code in page
            ],
        },
        "meta": {"cursor": rows[limit][0] if len(rows) > limit else "", "total": total},
        "status": "ok",
    }


def _public_history(record: AgentRecord) -> list[dict[str, Any]]:
    return [{"role": h["role"], "content": h["content"]} for h in record.history_list()]


def history(sb: Sandbox, app_id: str, agent_id: str) -> dict[str, Any]:
    """GET /agents/{id}/history: only while RUNNING."""
    record = _agent(sb, app_id, agent_id, _RUNNING)
    return {
        "agent_id": record.agent_id,
        "start_ts": int(record.created_at),
        "status": "RUNNING",
        "contents": _public_history(record),
    }


def _append_history(sb: Sandbox, record: AgentRecord, item: dict[str, Any]) -> None:
    props = record.properties_obj()
    block = props.get("mllm" if record.mode == "mllm" else "llm") or {}
    limit = block.get("max_history")
    limit = limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_HISTORY
    items = record.history_list()
    items.append(item)
    record.history = dumps(items[-limit:])
    sb.save(record)


def speak(sb: Sandbox, app_id: str, agent_id: str, raw: bytes) -> dict[str, Any]:
    """POST /agents/{id}/speak: `{agent_id, channel, start_ts}`; not in MLLM mode."""
    body = parse_body(raw)
    validate_speak(body)
    with sb.store.transaction():
        record = _agent(sb, app_id, agent_id, _RUNNING)
        if record.mode == "mllm":
            raise ApiFailure(400, "InvalidRequestBody", "speak is not supported in mllm mode")
        now = sb.now()
        item = {"role": "assistant", "content": body["text"], "at": now, "kind": "api_speak"}
        _append_history(sb, record, item)
    return {"agent_id": record.agent_id, "channel": record.channel, "start_ts": int(now)}


def interrupt(sb: Sandbox, app_id: str, agent_id: str) -> dict[str, Any]:
    """POST /agents/{id}/interrupt (any or no body): `{agent_id, channel, start_ts}`."""
    record = _agent(sb, app_id, agent_id, _RUNNING)
    return {"agent_id": record.agent_id, "channel": record.channel, "start_ts": int(sb.now())}


def think(sb: Sandbox, app_id: str, agent_id: str, raw: bytes) -> dict[str, Any]:
    """POST /agents/{id}/think: `{agent_id, channel, start_ts}`."""
    body = parse_body(raw)
    validate_think(body)
    with sb.store.transaction():
        record = _agent(sb, app_id, agent_id, _RUNNING)
        now = sb.now()
        _append_history(sb, record, {"role": "user", "content": body["text"], "at": now})
    return {"agent_id": record.agent_id, "channel": record.channel, "start_ts": int(now)}


def _page_param(params: Mapping[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if not raw:
        return default
    value = wire.integer(raw.strip())
    if value is None or value < 1:
        raise invalid(key, "must be an integer >= 1")
    return value


def turns(sb: Sandbox, app_id: str, agent_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /agents/{id}/turns: the agent's greeting and speak turns, paged (1-based)."""
    record = sb.store.get(app_id, agent_id)
    if record is None or expired(record, sb.now(), sb.settings.get_retention_s):
        raise not_found()
    page_index = _page_param(params, "page_index", 1)
    page_size = _page_param(params, "page_size", TURNS_DEFAULT_PAGE_SIZE)
    all_turns: list[dict[str, Any]] = []
    for item in record.history_list():
        kind = item.get("kind")
        if kind not in ("greeting", "api_speak"):
            continue
        at_ms = int(item["at"] * 1000)
        metadata = {"transport": "http"} if kind == "api_speak" else {"greeting_nth": 1}
        all_turns.append(
            {
                "turn_id": len(all_turns) + 1,
                "start": {"start_at": at_ms, "type": kind, "metadata": metadata},
                "end": {"end_at": at_ms, "type": "ok", "metadata": {"playback_duration_ms": 0}},
            }
        )
    total_pages = max(1, -(-len(all_turns) // page_size))
    first = (page_index - 1) * page_size
    return {
        "agent_id": record.agent_id,
        "name": record.name,
        "channel": record.channel,
        "total_turn_count": len(all_turns),
        "pagination": {
            "page_index": page_index,
            "total_pages": total_pages,
            "is_last_page": page_index >= total_pages,
        },
        "turns": all_turns[first : first + page_size],
    }
