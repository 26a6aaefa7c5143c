"""Validation of the newer `properties` blocks of a join, where the documentation gives their
shape (docs/engine-api.md, "Newer properties blocks"): `geofence`, `turn_detection`,
`interruption`, `sal`, `labels`, `rtc`, `filler_words`, `avatar`, the `mcp_servers` of `llm` and
`mllm`, and `credential_mode` in `asr`, `llm` and `tts`.

Only what the documentation states is checked: a documented key of the wrong JSON type is 400
`InvalidRequestBody`, a documented enum value or range violated is 400 `InvalidFieldValue`.
Unknown keys stay accepted (clients in the wild send many), and so do the deprecated flat keys
of `turn_detection`. Vendor `params` are not checked.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from .errors import bad_body, invalid

GEOFENCE_AREAS = ("GLOBAL", "NORTH_AMERICA", "EUROPE", "ASIA", "INDIA", "JAPAN")
AVATAR_VENDORS = ("akool", "liveavatar", "anam", "generic", "sensetime", "spatius", "heygen")
MCP_NAME = re.compile(r"^[A-Za-z0-9.-]{1,48}$")
#: The one documented value of `credential_mode` (Agora's managed keys; replaces `preset`).
CREDENTIAL_MODES = ("managed",)
_NUMBER = (int, float)


def _get(obj: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    """`obj[key]` if present and of `kind` (400 InvalidRequestBody if of another type)."""
    value = obj.get(key)
    if value is None:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise bad_body(f"{path}: wrong type")
    return value


def _block(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value: dict[str, Any] | None = _get(obj, key, path, dict)
    return value or {}


def _choice(obj: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...]) -> None:
    value = _get(obj, key, path, str)
    if value is not None and value not in allowed:
        raise invalid(path, f"must be one of {', '.join(allowed)}")


def _range(
    obj: Mapping[str, Any],
    key: str,
    path: str,
    low: float,
    high: float,
    *,
    also: tuple[float, ...] = (),
    integer: bool = True,
) -> None:
    value = _get(obj, key, path, int if integer else _NUMBER)
    if value is not None and value not in also and not low <= value <= high:
        raise invalid(path, f"must be between {low:g} and {high:g}")


def _strings(obj: Mapping[str, Any], key: str, path: str, most: int | None = None) -> None:
    items = _get(obj, key, path, list)
    if items is None:
        return
    if not all(isinstance(item, str) for item in items):
        raise bad_body(f"{path}: wrong type")
    if most is not None and len(items) > most:
        raise invalid(path, f"at most {most} items")


def _string_map(obj: Mapping[str, Any], key: str, path: str) -> None:
    value = _get(obj, key, path, dict)
    if value is not None and not all(isinstance(v, str) for v in value.values()):
        raise bad_body(f"{path}: values must be strings")


def validate_blocks(props: Mapping[str, Any]) -> None:
    """Check the documented shapes of the newer blocks of join `properties`."""
    _geofence(_block(props, "geofence", "properties.geofence"))
    _turn_detection(_block(props, "turn_detection", "properties.turn_detection"))
    _interruption(_block(props, "interruption", "properties.interruption"))
    _sal(_block(props, "sal", "properties.sal"))
    _string_map(props, "labels", "properties.labels")
    _rtc(_block(props, "rtc", "properties.rtc"))
    _filler_words(_block(props, "filler_words", "properties.filler_words"))
    avatar = _block(props, "avatar", "properties.avatar")
    _get(avatar, "enable", "properties.avatar.enable", bool)
    _choice(avatar, "vendor", "properties.avatar.vendor", AVATAR_VENDORS)
    _get(avatar, "params", "properties.avatar.params", dict)
    for name in ("llm", "mllm"):
        block = _block(props, name, f"properties.{name}")
        _mcp_servers(block, f"properties.{name}.mcp_servers")
    for name in ("asr", "llm", "tts"):
        block = _block(props, name, f"properties.{name}")
        _choice(block, "credential_mode", f"properties.{name}.credential_mode", CREDENTIAL_MODES)


def _geofence(block: dict[str, Any]) -> None:
    if not block:
        return
    path = "properties.geofence"
    area = _get(block, "area", f"{path}.area", str)
    if area is None:
        raise invalid(f"{path}.area", "required")
    _choice(block, "area", f"{path}.area", GEOFENCE_AREAS)
    excluded = _get(block, "exclude_area", f"{path}.exclude_area", str)
    if excluded is not None:
        if area != "GLOBAL":
            raise invalid(f"{path}.exclude_area", "only allowed when area is GLOBAL")
        _choice(block, "exclude_area", f"{path}.exclude_area", GEOFENCE_AREAS[1:])


def _turn_detection(block: dict[str, Any]) -> None:
    path = "properties.turn_detection"
    _choice(block, "type", f"{path}.type", ("agora_vad", "server_vad", "semantic_vad"))
    config = _block(block, "config", f"{path}.config")
    path += ".config"
    _range(config, "speech_threshold", f"{path}.speech_threshold", 0, 1, integer=False)
    start = _block(config, "start_of_speech", f"{path}.start_of_speech")
    _choice(
        start,
        "mode",
        f"{path}.start_of_speech.mode",
        ("vad", "keywords", "disabled", "manual"),
    )
    vad = _block(start, "vad_config", f"{path}.start_of_speech.vad_config")
    where = f"{path}.start_of_speech.vad_config"
    _range(vad, "interrupt_duration_ms", f"{where}.interrupt_duration_ms", 120, 1200)
    _range(vad, "prefix_padding_ms", f"{where}.prefix_padding_ms", 0, 5000)
    end = _block(config, "end_of_speech", f"{path}.end_of_speech")
    _choice(end, "mode", f"{path}.end_of_speech.mode", ("vad", "semantic", "manual"))
    vad = _block(end, "vad_config", f"{path}.end_of_speech.vad_config")
    where = f"{path}.end_of_speech.vad_config"
    _range(vad, "silence_duration_ms", f"{where}.silence_duration_ms", 120, 2000)
    semantic = _block(end, "semantic_config", f"{path}.end_of_speech.semantic_config")
    where = f"{path}.end_of_speech.semantic_config"
    _range(semantic, "max_wait_ms", f"{where}.max_wait_ms", 500, 10000, also=(-1,))
    _get(semantic, "pause_state_enabled", f"{where}.pause_state_enabled", bool)


def _interruption(block: dict[str, Any]) -> None:
    path = "properties.interruption"
    _get(block, "enable", f"{path}.enable", bool)
    _choice(block, "mode", f"{path}.mode", ("start_of_speech", "keywords"))
    keywords = _block(block, "keywords_config", f"{path}.keywords_config")
    _strings(keywords, "trigger_keywords", f"{path}.keywords_config.trigger_keywords", 128)
    disabled = _block(block, "disabled_config", f"{path}.disabled_config")
    _choice(disabled, "strategy", f"{path}.disabled_config.strategy", ("append", "ignore"))


def _sal(block: dict[str, Any]) -> None:
    path = "properties.sal"
    _choice(block, "sal_mode", f"{path}.sal_mode", ("locking", "recognition"))
    _string_map(block, "sample_urls", f"{path}.sample_urls")


def _rtc(block: dict[str, Any]) -> None:
    path = "properties.rtc"
    _get(block, "encryption_key", f"{path}.encryption_key", str)
    _range(block, "encryption_mode", f"{path}.encryption_mode", 1, 8)
    salt = _get(block, "encryption_salt", f"{path}.encryption_salt", str)
    if salt is not None:
        try:
            decoded = base64.b64decode(salt, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise invalid(f"{path}.encryption_salt", "must be base64 of 32 bytes")


def _filler_words(block: dict[str, Any]) -> None:
    path = "properties.filler_words"
    _get(block, "enable", f"{path}.enable", bool)
    trigger = _block(block, "trigger", f"{path}.trigger")
    _choice(trigger, "mode", f"{path}.trigger.mode", ("fixed_time",))
    fixed = _block(trigger, "fixed_time_config", f"{path}.trigger.fixed_time_config")
    where = f"{path}.trigger.fixed_time_config.response_wait_ms"
    _range(fixed, "response_wait_ms", where, 100, 10000)
    content = _block(block, "content", f"{path}.content")
    _choice(content, "mode", f"{path}.content.mode", ("static", "generated"))
    static = _block(content, "static_config", f"{path}.content.static_config")
    _strings(static, "phrases", f"{path}.content.static_config.phrases", 100)
    rule = f"{path}.content.static_config.selection_rule"
    _choice(static, "selection_rule", rule, ("shuffle", "round_robin"))


def _mcp_servers(block: dict[str, Any], path: str) -> None:
    servers = _get(block, "mcp_servers", path, list)
    for index, server in enumerate(servers or []):
        where = f"{path}[{index}]"
        if not isinstance(server, dict):
            raise bad_body(f"{where}: wrong type")
        name = _get(server, "name", f"{where}.name", str)
        if name is not None and not MCP_NAME.fullmatch(name):
            raise invalid(f"{where}.name", "at most 48 characters from A-Z a-z 0-9 . -")
        _get(server, "timeout_ms", f"{where}.timeout_ms", int)
        _strings(server, "allowed_tools", f"{where}.allowed_tools")
