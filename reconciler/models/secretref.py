"""The ``$secrets.<set>.<key>`` reference: its one grammar, shared by the manifests' checks,
the plan graph and the JSON schema.

A reference is a whole string: ``$secrets.``, a set name, ``.``, a key name, where both names are
what the Platform takes for a set's and a key's name (:data:`SECRET_NAME_PATTERN`: 1 to 64 of
A-Z, a-z, 0-9 and ``_``). A string that starts with ``$secrets`` but is not one (no key, three
parts, an empty or refused name, spaces around it) is a mistake, never a value to send:
:func:`secret_reference_problem` says what is wrong without echoing it.
"""

from __future__ import annotations

import re

SECRET_NAME = r"[A-Za-z0-9_]{1,64}"
"""A secret set's name and its keys' names, as the Platform takes them (no anchors)."""
SECRET_NAME_PATTERN = rf"^{SECRET_NAME}$"
""":data:`SECRET_NAME`, anchored (a model's or a schema's ``pattern``)."""
SECRET_NAME_RULE = "1 to 64 of A-Z, a-z, 0-9 and _"
""":data:`SECRET_NAME` in words, for messages."""
SECRET_REFERENCE_PREFIX = "$secrets."
SECRET_REFERENCE_FORM = "$secrets.<set>.<key>"
SECRET_REFERENCE_PATTERN = rf"^\$secrets\.({SECRET_NAME})\.({SECRET_NAME})$"
"""A whole reference; group 1 is the set's name, group 2 the key's."""

_REFERENCE = re.compile(SECRET_REFERENCE_PATTERN)
_NAME = re.compile(SECRET_NAME)
_HEAD = "$secrets"


def parse_secret_reference(value: str) -> tuple[str, str] | None:
    """``(set, key)`` of the reference ``value``, or None when it is not a well-formed one."""
    match = _REFERENCE.fullmatch(value)
    return None if match is None else (match.group(1), match.group(2))


def looks_like_secret_reference(value: str) -> bool:
    """True when ``value`` is meant as a reference: it starts with ``$secrets`` followed by a
    dot or nothing (spaces around it aside). ``$secretsauce`` is not meant as one."""
    text = value.strip()
    return text == _HEAD or text.startswith(SECRET_REFERENCE_PREFIX)


def secret_reference_problem(value: str) -> str | None:
    """Why ``value`` is not a well-formed reference (a clause naming the part at fault, never
    the value), or None when it is one."""
    if parse_secret_reference(value) is not None:
        return None
    if value != value.strip():
        return "a reference is the whole value, without spaces around it"
    if value == _HEAD:
        return "it names neither a set nor a key"
    if not value.startswith(SECRET_REFERENCE_PREFIX):
        return f"it does not start with {SECRET_REFERENCE_PREFIX}"
    parts = value[len(SECRET_REFERENCE_PREFIX) :].split(".")
    if len(parts) == 1:
        return "it names no key" if parts[0] else "it names neither a set nor a key"
    if len(parts) > 2:
        return "it has more parts than a set and a key (names take no '.')"
    for part, name in zip(("set", "key"), parts, strict=True):
        if not name:
            return f"its {part} name is empty"
        if len(name) > 64:
            return f"its {part} name is longer than 64 characters"
        if _NAME.fullmatch(name) is None:
            return f"its {part} name has a character other than A-Z, a-z, 0-9 and _"
    return f"it is not of the form {SECRET_REFERENCE_FORM}"


def secret_reference_message(reason: str) -> str:
    """The whole message of a malformed reference, from :func:`secret_reference_problem`."""
    return (
        f"not a secret reference: {reason}; write {SECRET_REFERENCE_FORM} "
        f"(set and key names: {SECRET_NAME_RULE})"
    )
