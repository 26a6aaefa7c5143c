"""Rules of a manifest the field types cannot express, checked on its raw data.

The engine refuses a join whose identifiers break its rules; a restart would then have stopped
the running agent for a spec that cannot start. So every rule the engine applies to a join body
is checked here first, with the engine's own limits:

- ``channel``: 1 to 64 characters, each a letter, a digit, a space or one of
  ``!#$%&()+-:;<=.>?@[]^_{}|~,`` (:data:`CHANNEL_CHARACTERS`);
- ``agent_rtc_uid`` and each of ``remote_rtc_uids`` (which may also be ``"*"``): a numeric uid
  (ASCII digits, 0 to :data:`MAX_UID`) unless ``enable_string_uid`` is true, then a string
  account of 1 to :data:`MAX_ACCOUNT_BYTES` bytes (UTF-8);
- ``remote_rtc_uids`` has at least one item.

The sandbox, which stands in for the engine, checks the same rules with its own code (it imports
nothing of this package); a test runs one table of values through both, so change them together.

And the rules that tie several fields together:

- ``llm`` and ``tts`` are required unless ``mllm.enable`` is true or ``preset`` or
  ``pipeline_id`` is given;
- the token is set at the top level or in ``properties``, not both;
- ``token: auto`` needs a numeric ``agent_rtc_uid``: tokens are minted with the official SDK's
  builders, which sign numeric uids only, so a string account (``enable_string_uid``) cannot
  get one (an account written in digits can: the token carries the uid as its decimal text);
- a token is required when the settings give an App Certificate (:func:`token_required`): the
  engine refuses a join without one (400 ``MissingRequiredField`` ``properties.token``), so a
  restart would have stopped the running agent and never started the new one. Whether the
  engine's app has a certificate the settings do not name cannot be known here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHANNEL_CHARACTERS",
    "CHANNEL_PATTERN",
    "MAX_ACCOUNT_BYTES",
    "MAX_CHANNEL_BYTES",
    "MAX_UID",
    "RANDOM_UID",
    "RuleViolation",
    "channel_problem",
    "check_rules",
    "is_numeric_uid",
    "token_required",
]

MAX_UID = 2**32 - 1
"""Largest numeric RTC uid (unsigned 32-bit)."""
RANDOM_UID = "0"
"""The numeric ``agent_rtc_uid`` that asks the engine for a random uid."""
WILDCARD_UID = "*"
"""The ``remote_rtc_uids`` item meaning "anyone in the channel"."""
MAX_ACCOUNT_BYTES = 255
"""Longest string account (``enable_string_uid``), in UTF-8 bytes."""
MAX_CHANNEL_BYTES = 64
"""Longest channel name; its characters are all ASCII, so bytes and characters agree."""
CHANNEL_CHARACTERS = " !#$%&()+-:;<=.>?@[]^_{}|~,"
"""The characters a channel name may use besides ASCII letters and digits."""
CHANNEL_PATTERN = (
    "^[A-Za-z0-9"
    + "".join("\\" + c if c in "\\]^-[" else c for c in CHANNEL_CHARACTERS)
    + f"]{{1,{MAX_CHANNEL_BYTES}}}$"
)
"""A channel name as a regular expression (for the JSON Schema; both Python and ECMAScript)."""
_CHANNEL_RE = re.compile("[A-Za-z0-9" + re.escape(CHANNEL_CHARACTERS) + "]+")
_MAX_UID_DIGITS = len(str(MAX_UID))
_AUTO = "auto"


@dataclass(frozen=True)
class RuleViolation:
    """A rule broken at ``path`` (canonical form, e.g. ``properties.agent_rtc_uid``)."""

    path: str
    message: str


def is_numeric_uid(value: str) -> bool:
    """Whether ``value`` is a numeric RTC uid: ASCII digits, 0 to :data:`MAX_UID`."""
    return (
        value.isascii()
        and value.isdigit()
        and len(value.lstrip("0")) <= _MAX_UID_DIGITS
        and int(value) <= MAX_UID
    )


def channel_problem(channel: str) -> str | None:
    """Why the engine would refuse ``channel`` as a channel name, or None."""
    if not channel:
        return "channel must not be empty"
    if not _CHANNEL_RE.fullmatch(channel):
        return (
            f"channel may use only ASCII letters, digits, spaces and {CHANNEL_CHARACTERS.strip()}"
        )
    if len(channel) > MAX_CHANNEL_BYTES:
        return f"channel must be at most {MAX_CHANNEL_BYTES} characters (it has {len(channel)})"
    return None


def _uid_problem(value: str, field: str, string_uid: bool, wildcard: bool) -> str | None:
    if wildcard and value == WILDCARD_UID:
        return None
    if string_uid:
        if not value or len(value.encode()) > MAX_ACCOUNT_BYTES:
            return f"{field} must be a string account of 1 to {MAX_ACCOUNT_BYTES} bytes"
        return None
    if is_numeric_uid(value):
        return None
    if wildcard:
        return f'{field} must be a numeric uid or "*" unless enable_string_uid is true'
    return (
        f"{field} must be a numeric uid (digits, at most {MAX_UID})"
        " unless enable_string_uid is true"
    )


def _truthy(value: Any) -> bool:
    """``True`` as pydantic's lax bool would read it (``true``, ``"yes"``, ``1``, ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "t", "y")
    return value is True or (isinstance(value, int) and value == 1)


def _identifiers(props: dict[str, Any]) -> list[RuleViolation]:
    """The engine's rules for the channel and the uids."""
    found: list[RuleViolation] = []
    channel = props.get("channel")
    if isinstance(channel, str):
        problem = channel_problem(channel)
        if problem is not None:
            found.append(RuleViolation("properties.channel", problem))
    string_uid = _truthy(props.get("enable_string_uid"))
    uid = props.get("agent_rtc_uid")
    if isinstance(uid, str):
        problem = _uid_problem(uid, "agent_rtc_uid", string_uid, wildcard=False)
        if problem is not None:
            found.append(RuleViolation("properties.agent_rtc_uid", problem))
    remotes = props.get("remote_rtc_uids")
    if isinstance(remotes, list):
        if not remotes:
            found.append(
                RuleViolation(
                    "properties.remote_rtc_uids",
                    'remote_rtc_uids must name at least one uid ("*": anyone)',
                )
            )
        for index, remote in enumerate(remotes):
            if isinstance(remote, str):
                field = f"remote_rtc_uids[{index}]"
                problem = _uid_problem(remote, field, string_uid, wildcard=True)
                if problem is not None:
                    found.append(RuleViolation(f"properties.{field}", problem))
    return found


def _token(doc: dict[str, Any], props: dict[str, Any]) -> list[RuleViolation]:
    top, inner = doc.get("token"), props.get("token")
    if top is not None and inner is not None:
        return [
            RuleViolation(
                "properties.token",
                "token is set both at the top level and in properties; keep one",
            )
        ]
    uid = props.get("agent_rtc_uid")
    auto_at = "token" if top == _AUTO else "properties.token" if inner == _AUTO else None
    if (
        auto_at is not None
        and _truthy(props.get("enable_string_uid"))
        and isinstance(uid, str)
        and uid
        and not is_numeric_uid(uid)
    ):
        return [
            RuleViolation(
                auto_at,
                "token: auto cannot be used with a string agent_rtc_uid (enable_string_uid: "
                "true): tokens are minted for a numeric uid only; give a literal token, or "
                "use a numeric agent_rtc_uid",
            )
        ]
    return []


def token_required(has_token: bool, has_certificate: bool) -> RuleViolation | None:
    """The violation of a manifest without a token (none, null or empty) under a certificate."""
    if has_token or not has_certificate:
        return None
    return RuleViolation(
        "token",
        "token is required: the settings give an App Certificate, so the engine refuses a join "
        "without a token (MissingRequiredField properties.token); write token: auto, or a "
        "literal token",
    )


def check_rules(doc: Any) -> list[RuleViolation]:
    """Every rule above that ``doc`` (raw: merged, interpolated) breaks.

    Tolerates any shape: keys of the wrong type are the business of field validation.
    """
    if not isinstance(doc, dict):
        return []
    props = doc.get("properties")
    if not isinstance(props, dict):
        return []
    found = _identifiers(props)
    mllm = props.get("mllm")
    mllm_on = isinstance(mllm, dict) and _truthy(mllm.get("enable"))
    if not mllm_on and not doc.get("preset") and not doc.get("pipeline_id"):
        for block in ("llm", "tts"):
            if props.get(block) is None:
                found.append(
                    RuleViolation(
                        "properties",
                        f"missing required key '{block}' in properties (needed unless "
                        "mllm.enable is true, or preset or pipeline_id is set)",
                    )
                )
    found.extend(_token(doc, props))
    return found
