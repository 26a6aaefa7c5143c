"""Rules of a manifest that tie several fields together, checked on its raw data.

- ``agent_rtc_uid`` must be digits, and each of ``remote_rtc_uids`` digits or ``"*"``, unless
  ``enable_string_uid`` is true;
- ``llm`` and ``tts`` are required unless ``mllm.enable`` is true or ``preset`` or
  ``pipeline_id`` is given;
- the token is set at the top level or in ``properties``, not both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_UID", "RuleViolation", "check_rules"]

MAX_UID = 2**32 - 1


@dataclass(frozen=True)
class RuleViolation:
    """A cross-field rule broken at ``path`` (canonical form, e.g. ``properties.agent_rtc_uid``)."""

    path: str
    message: str


def _is_uint(value: str) -> bool:
    return value.isascii() and value.isdigit() and int(value) <= MAX_UID


def _truthy(value: Any) -> bool:
    """``True`` as pydantic's lax bool would read it (``true``, ``"yes"``, ``1``, ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "t", "y")
    return value is True or (isinstance(value, int) and value == 1)


def check_rules(doc: Any) -> list[RuleViolation]:
    """The cross-field rules of a manifest, on its raw (merged, interpolated) data.

    Tolerates any shape: keys of the wrong type are the business of field validation.
    """
    if not isinstance(doc, dict):
        return []
    props = doc.get("properties")
    if not isinstance(props, dict):
        return []
    found: list[RuleViolation] = []
    if not _truthy(props.get("enable_string_uid")):
        uid = props.get("agent_rtc_uid")
        if isinstance(uid, str) and not _is_uint(uid):
            found.append(
                RuleViolation(
                    "properties.agent_rtc_uid",
                    f"agent_rtc_uid must be a numeric uid (digits, at most {MAX_UID})"
                    " unless enable_string_uid is true",
                )
            )
        remotes = props.get("remote_rtc_uids")
        if isinstance(remotes, list):
            for index, remote in enumerate(remotes):
                if isinstance(remote, str) and remote != "*" and not _is_uint(remote):
                    found.append(
                        RuleViolation(
                            f"properties.remote_rtc_uids[{index}]",
                            f'remote_rtc_uids[{index}] must be a numeric uid or "*"'
                            " unless enable_string_uid is true",
                        )
                    )
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
    if doc.get("token") is not None and props.get("token") is not None:
        found.append(
            RuleViolation(
                "properties.token",
                "token is set both at the top level and in properties; keep one",
            )
        )
    return found
