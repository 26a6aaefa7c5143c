"""Request validation with the engine's 400 reasons (docs/engine-api.md).

* `InvalidRequestBody`: the body is not JSON / not an object, a field has the wrong type, or an
  update names a property the engine cannot change live.
* `MissingRequiredField`: `name`, `properties`, `properties.channel`, `agent_rtc_uid`,
  `remote_rtc_uids` (and `token` when required) are absent or empty.
* `InvalidFieldValue`: a value out of range (negative `idle_timeout`, non-numeric uid without
  `enable_string_uid`, bad channel name, unknown enum value, ...).

Lenient as the engine must be with real clients: JSON `null` counts as absent, and unknown keys
are accepted and kept as sent. Only the fields named above are checked, and the documented
shapes of the newer blocks (`blocks.py`); vendor blocks are not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import wire
from .blocks import validate_blocks
from .config import LIST_DEFAULT_LIMIT, LIST_DEFAULT_STATES, LIST_DEFAULT_WINDOW_S
from .errors import bad_body, invalid, missing
from .lifecycle import CODE_STATUSES

#: The largest integer a 64-bit field (the engine's, and the sandbox's SQLite column) holds.
_MAX_INT64 = 2**63 - 1
#: Characters Agora allows in a channel name (at most 64 bytes).
_CHANNEL_RE = re.compile(r"^[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,64}$")
_MAX_UID = 2**32 - 1
SPEAK_MAX_BYTES = 512
SPEAK_PRIORITIES = ("INTERRUPT", "APPEND", "IGNORE")
THINK_LISTENING_ACTIONS = ("inject", "interrupt", "ignore", "append")
THINK_OTHER_ACTIONS = ("interrupt", "ignore", "append")


def strip_nulls(value: Any) -> Any:
    """A copy of a JSON value without the object members whose value is null."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def parse_body(raw: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    """Decode a JSON object body (nulls stripped); an empty body is `{}` when `empty_ok`."""
    if not raw.strip():
        if empty_ok:
            return {}
        raise bad_body("request body is empty; a JSON object is expected")
    try:
        value = wire.loads(raw)
    except wire.NotJson:
        raise bad_body("request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_body("request body must be a JSON object")
    stripped: dict[str, Any] = strip_nulls(value)
    return stripped


def _typed(obj: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in _as_tuple(kind):
        raise bad_body(f"{path}: wrong type")
    if not isinstance(value, kind):
        raise bad_body(f"{path}: wrong type")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _uid(value: str, path: str, string_uid: bool, wildcard: bool) -> None:
    if wildcard and value == "*":
        return
    if string_uid:
        if not value or len(value.encode()) > 255:
            raise invalid(path, "string uid must be 1 to 255 bytes")
        return
    digits = value.lstrip("0")  # int() of thousands of digits raises; no uid has 11
    if not value.isascii() or not value.isdigit() or len(digits) > 10 or int(value) > _MAX_UID:
        raise invalid(path, "must be a numeric uid (0 to 4294967295) unless enable_string_uid")


@dataclass(frozen=True)
class JoinRequest:
    """A validated join body."""

    name: str
    properties: dict[str, Any]
    channel: str
    idle_timeout: int | None
    token: str | None
    mode: str
    agent_uid: str
    remote_uids: list[str]


def validate_join(body: dict[str, Any], *, require_token: bool) -> JoinRequest:
    """Validate a join body (nulls already stripped)."""
    name = _typed(body, "name", "name", str)
    if not name:
        raise missing("name")
    _typed(body, "preset", "preset", str)
    _typed(body, "pipeline_id", "pipeline_id", str)
    props = _typed(body, "properties", "properties", dict)
    if props is None:
        raise missing("properties")
    channel = _typed(props, "channel", "properties.channel", str)
    if not channel:
        raise missing("properties.channel")
    if not _CHANNEL_RE.fullmatch(channel) or len(channel.encode()) > 64:  # "$" allows "\n"
        raise invalid("properties.channel", "must be 1 to 64 characters of the allowed set")
    string_uid = _typed(props, "enable_string_uid", "properties.enable_string_uid", bool) is True
    agent_uid = _typed(props, "agent_rtc_uid", "properties.agent_rtc_uid", str)
    if agent_uid is None or agent_uid == "":
        raise missing("properties.agent_rtc_uid")
    _uid(agent_uid, "properties.agent_rtc_uid", string_uid, wildcard=False)
    remote = _typed(props, "remote_rtc_uids", "properties.remote_rtc_uids", list)
    if not remote:
        raise missing("properties.remote_rtc_uids")
    for index, uid in enumerate(remote):
        path = f"properties.remote_rtc_uids[{index}]"
        if not isinstance(uid, str):
            raise bad_body(f"{path}: wrong type")
        _uid(uid, path, string_uid, wildcard=True)
    idle = _typed(props, "idle_timeout", "properties.idle_timeout", int)
    if idle is not None and not 0 <= idle <= _MAX_INT64:
        raise invalid("properties.idle_timeout", f"must be from 0 to {_MAX_INT64}")
    token = _typed(props, "token", "properties.token", str)
    if require_token and not token:
        raise missing("properties.token")
    for block in ("llm", "asr", "tts", "mllm", "avatar", "advanced_features", "parameters"):
        _typed(props, block, f"properties.{block}", dict)
    llm = props.get("llm") or {}
    _typed(llm, "params", "properties.llm.params", dict)
    _typed(llm, "system_messages", "properties.llm.system_messages", list)
    validate_blocks(props)
    return JoinRequest(
        name=name,
        properties=props,
        channel=channel,
        idle_timeout=idle,
        token=token or None,
        mode=_mode(props),
        agent_uid=agent_uid,
        remote_uids=list(remote),
    )


def _mode(props: Mapping[str, Any]) -> str:
    mllm = props.get("mllm")
    features = props.get("advanced_features") or {}
    if isinstance(mllm, dict) and mllm.get("enable") is not False:
        return "mllm"
    return "mllm" if features.get("enable_mllm") is True else "llm"


@dataclass(frozen=True)
class UpdateRequest:
    """A validated update body. None means "leave unchanged"."""

    token: str | None
    llm_params: dict[str, Any] | None
    system_messages: list[Any] | None
    mllm_params: dict[str, Any] | None


#: What `update` can change, per block of `properties` (None: the key itself).
LIVE_UPDATE_KEYS: dict[str, frozenset[str] | None] = {
    "token": None,
    "llm": frozenset({"system_messages", "params"}),
    "mllm": frozenset({"params"}),
}


def _fixed_keys(props: Mapping[str, Any]) -> list[str]:
    """The paths under `properties` that update names but cannot change live."""
    fixed: list[str] = []
    for key, value in props.items():
        if key not in LIVE_UPDATE_KEYS:
            fixed.append(f"properties.{key}")
            continue
        allowed = LIVE_UPDATE_KEYS[key]
        if allowed is not None and isinstance(value, dict):
            fixed.extend(f"properties.{key}.{sub}" for sub in value if sub not in allowed)
    return sorted(fixed)


def validate_update(body: dict[str, Any]) -> UpdateRequest:
    """Validate an update body (nulls stripped). An empty token means no change.

    Keys the engine cannot change live are refused rather than silently ignored, so a client
    that believes it changed them learns otherwise.
    """
    props = _typed(body, "properties", "properties", dict) or {}
    token = _typed(props, "token", "properties.token", str)
    llm = _typed(props, "llm", "properties.llm", dict) or {}
    mllm = _typed(props, "mllm", "properties.mllm", dict) or {}
    fixed = _fixed_keys(props)
    if fixed:
        raise bad_body(
            f"{', '.join(fixed)}: cannot be changed by update (only properties.token,"
            " llm.system_messages, llm.params and mllm.params change live)"
        )
    messages = _typed(llm, "system_messages", "properties.llm.system_messages", list)
    if messages is not None and not all(isinstance(m, dict) for m in messages):
        raise bad_body("properties.llm.system_messages: items must be objects")
    return UpdateRequest(
        token=token or None,
        llm_params=_typed(llm, "params", "properties.llm.params", dict),
        system_messages=messages,
        mllm_params=_typed(mllm, "params", "properties.mllm.params", dict),
    )


def validate_speak(body: dict[str, Any]) -> None:
    """Validate a speak body: text (<= 512 bytes), priority, interruptable."""
    text = _typed(body, "text", "text", str)
    if not text:
        raise missing("text")
    if len(text.encode()) > SPEAK_MAX_BYTES:
        raise invalid("text", f"must be at most {SPEAK_MAX_BYTES} bytes")
    priority = _typed(body, "priority", "priority", str)
    if priority is not None and priority not in SPEAK_PRIORITIES:
        raise invalid("priority", f"must be one of {', '.join(SPEAK_PRIORITIES)}")
    _typed(body, "interruptable", "interruptable", bool)


def validate_think(body: dict[str, Any]) -> None:
    """Validate a think body: text, the three actions, interruptable, metadata."""
    if not _typed(body, "text", "text", str):
        raise missing("text")
    for key, allowed in (
        ("on_listening_action", THINK_LISTENING_ACTIONS),
        ("on_thinking_action", THINK_OTHER_ACTIONS),
        ("on_speaking_action", THINK_OTHER_ACTIONS),
    ):
        value = _typed(body, key, key, str)
        if value is not None and value not in allowed:
            raise invalid(key, f"must be one of {', '.join(allowed)}")
    _typed(body, "interruptable", "interruptable", bool)
    metadata = _typed(body, "metadata", "metadata", dict) or {}
    if not all(isinstance(v, str) for v in metadata.values()):
        raise bad_body("metadata: values must be strings")


@dataclass(frozen=True)
class ListQuery:
    """Validated list query parameters."""

    channel: str | None
    from_time: float
    to_time: float
    states: frozenset[int] | None
    limit: int
    cursor: str | None


def _number(params: Mapping[str, str], key: str) -> float | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    value = wire.number(raw.strip())
    if value is None or value < 0:
        raise invalid(key, "must be a Unix timestamp in seconds")
    return value


def parse_list_query(params: Mapping[str, str], now: float) -> ListQuery:
    """Parse channel, from_time/to_time (default: the last 2 hours), state (default 2,
    RUNNING), limit (default 20), cursor."""
    to_time = _number(params, "to_time")
    from_time = _number(params, "from_time")
    to_time = now if to_time is None else to_time
    from_time = now - LIST_DEFAULT_WINDOW_S if from_time is None else from_time
    states: frozenset[int] | None = LIST_DEFAULT_STATES
    raw_state = params.get("state")
    if raw_state:
        codes: set[int] = set()
        for part in raw_state.split(","):
            part = part.strip()
            if wire.integer(part) not in CODE_STATUSES:
                raise invalid("state", "must be comma-separated status codes (0-6)")
            codes.add(int(part))
        states = frozenset(codes)
    limit = LIST_DEFAULT_LIMIT
    raw_limit = params.get("limit")
    if raw_limit:
        text = raw_limit.strip()
        value = wire.integer(text)
        if value is None:
            number = wire.number(text)
            value = None if number is None else int(number)
        if value is None or not 1 <= value <= _MAX_INT64:
            raise invalid("limit", f"must be an integer from 1 to {_MAX_INT64}")
        limit = value
    return ListQuery(
        channel=params.get("channel") or None,
        from_time=from_time,
        to_time=to_time,
        states=states,
        limit=limit,
        cursor=params.get("cursor") or None,
    )
