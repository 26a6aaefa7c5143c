"""Small field checks shared by the Platform operations; each failure is a 400 naming the
field (validation stops at the first problem, as documented)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from .errors import invalid
from .rules import E164_RE, NUMBER_FORMATTING, UNKNOWN_FIELDS_REFUSED, VALUES_ONLY_DECLARED


def string(value: Any, field: str, *, low: int = 0, high: int | None = None) -> str:
    """A string of ``low``..``high`` characters."""
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if len(value) < low or (high is not None and len(value) > high):
        bounds = f"{low} to {high}" if high is not None else f"at least {low}"
        raise invalid(field, f"must be {bounds} characters")
    return value


def integer(value: Any, field: str, *, low: int = 0, high: int | None = None) -> int:
    """An integer (not a boolean) in ``low``..``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be an integer")
    if value < low or (high is not None and value > high):
        raise invalid(field, f"must be at least {low}" + (f" and at most {high}" if high else ""))
    return value


def obj(value: Any, field: str) -> dict[str, Any]:
    """A JSON object."""
    if not isinstance(value, dict):
        raise invalid(field, "must be an object")
    return value


def array(value: Any, field: str) -> list[Any]:
    """A JSON array."""
    if not isinstance(value, list):
        raise invalid(field, "must be an array")
    return value


def no_unknown(value: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    """400 for the first field of ``value`` not in ``allowed`` (see UNKNOWN_FIELDS_REFUSED)."""
    if not UNKNOWN_FIELDS_REFUSED:
        return
    for key in value:
        if key not in allowed:
            raise invalid(f"{prefix}{key}", "unknown field")


def variable_values(value: Any, config: dict[str, Any], field: str) -> dict[str, Any]:
    """Values of an agent's variables (a session's ``values``, a campaign contact's): strings
    or numbers, for variables ``config`` declares (``VALUES_ONLY_DECLARED``)."""
    values = obj(value, field)
    declared = config.get("variables") or {}
    for name, item in values.items():
        if VALUES_ONLY_DECLARED and name not in declared:
            raise invalid(f"{field}.{name}", "the agent declares no such variable")
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise invalid(f"{field}.{name}", "must be a string or a number")
    return values


def e164_digits(value: Any, field: str) -> str:
    """The E.164 form of a phone number that may carry formatting (spaces, dashes, ...)."""
    text = string(value, field, low=1, high=128)
    plain = "".join(ch for ch in text if ch not in NUMBER_FORMATTING)
    if not E164_RE.fullmatch(plain):
        raise invalid(field, "must be a phone number in E.164 format, such as +14155550100")
    return plain


def ip_or_cidr(value: Any, field: str) -> str:
    """An IPv4 address or CIDR block."""
    text = string(value, field, low=1)
    try:
        ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise invalid(field, "must be an IPv4 address or CIDR block") from None
    return text


def strings_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` with its field path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")


def has_secret_ref(text: str) -> bool:
    """Whether ``text`` contains a ``$secrets.<set>.<key>`` reference."""
    return "$secrets." in text
