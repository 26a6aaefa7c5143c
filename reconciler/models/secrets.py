"""The one rule for which values are secret, used by every module.

A value of an agent's spec is **sensitive** (kept out of state, plans, output, events, logs and
errors: only a salted digest of it is ever written) when

1. it sits under a *secret-like key*, at any depth, whether written literally or interpolated:
   :func:`is_secret_key`; or
2. it was interpolated from the environment (``${VAR}``) and its nearest key is not a *plain
   key*: :func:`is_plain_key`.

Plain keys are the identifiers the engine shows anyway (``channel``, ``agent_rtc_uid``,
``remote_rtc_uids``, ...) and the plain settings a reviewer must be able to read (``vendor``,
``model``, ``region``, ``language``, voice names, ...). An interpolated value under a plain key is
shown like a literal one, so the channel in a plan's header, its JSON, the state and ``state list``
agree with its diff. A plain key under a secret-like key stays sensitive
(``credentials.region``): rule 1 wins.

``url`` is deliberately *not* plain: a URL may carry a key in its query or its userinfo
(``https://x.example/v1?key=...``), so an interpolated URL is hidden while a literal one is shown.

Keys are compared after normalisation (:func:`normal_key`): camelCase is split (``apiKey`` ->
``api_key``), ``-`` and ``.`` become ``_`` (``X-Api-Key`` -> ``x_api_key``) and case is ignored.
A key is secret-like when it is one of :data:`SECRET_KEYS` or its last word is one of
:data:`SECRET_WORDS` (``private_key``, ``client_secret``, ``access_token``, ``encryption_salt``);
``max_tokens``, ``keywords`` and ``key_id`` are not.

The engine client applies rule 1 to request bodies (:func:`secret_strings`) to scrub an error
text that echoes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from reconciler.models.fieldpath import FieldPath

SECRET_KEYS: frozenset[str] = frozenset(
    {
        "adc_credentials_string",
        "auth",
        "authorization",
        "cookie",
        "set_cookie",
    }
)
"""Secret-like keys (normalised) whose last word is not one of :data:`SECRET_WORDS`."""

SECRET_WORDS: frozenset[str] = frozenset(
    {
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "credential",
        "credentials",
        "certificate",
        "salt",
        "signature",
    }
)
"""A normalised key ending in one of these words is secret-like (``api_key``, ``key``, ``token``,
``secret``, ``password``, ``access_key``, ``secret_key``, ``encryption_key``, ``agora_token``,
``customer_secret``, ``encryption_salt``, ...)."""

PLAIN_KEYS: frozenset[str] = frozenset(
    {
        # identifiers the engine shows anyway
        "channel",
        "agent_rtc_uid",
        "agent_rtm_uid",
        "remote_rtc_uids",
        "pipeline_id",
        "preset",
        "avatar_id",
        # plain settings
        "vendor",
        "style",
        "model",
        "region",
        "area",
        "language",
        "voice",
        "voice_name",
        "voice_id",
    }
)
"""Keys (normalised) whose interpolated values are shown: never sensitive unless under a
secret-like key."""

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=4096)
def normal_key(key: str) -> str:
    """``key`` as the rule compares it (``X-Api-Key`` -> ``x_api_key``)."""
    return _CAMEL.sub("_", key).lower().replace("-", "_").replace(".", "_")


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether every value under ``key`` is sensitive (``api_key``, ``apiKey``, ``X-Api-Key``)."""
    normal = normal_key(key)
    return normal in SECRET_KEYS or normal.rpartition("_")[2] in SECRET_WORDS


def is_plain_key(key: str) -> bool:
    """Whether an interpolated value under ``key`` is shown (``channel``, ``model``, ...)."""
    return normal_key(key) in PLAIN_KEYS


def is_sensitive(keys: Sequence[str], *, interpolated: bool) -> bool:
    """The rule: whether the value reached through ``keys`` (the mapping keys from the root of
    the spec to the value, list indexes left out) is sensitive.

    ``interpolated`` says whether the value was interpolated from the environment.
    """
    if any(is_secret_key(key) for key in keys):
        return True
    return interpolated and not (keys and is_plain_key(keys[-1]))


MIN_SECRET_CHARS = 4
"""Shorter strings are never treated as secrets to scrub from text (they would match anywhere)."""


def secret_strings(tree: Any) -> set[str]:
    """Every string of at least :data:`MIN_SECRET_CHARS` under a secret-like key in ``tree``."""
    found: set[str] = set()
    _collect(tree, False, found)
    return found


def _collect(value: Any, secret: bool, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, secret or is_secret_key(str(key)), found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, secret, found)
    elif secret and isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
        found.add(value)


def values_under(spec: Any, paths: Iterable[FieldPath]) -> set[str]:
    """Every string at or under each of ``paths`` in ``spec`` (a spec's sensitive values, to
    scrub from any text that could quote one; empty strings left out)."""
    found: set[str] = set()
    for path in paths:
        stack = [path.get_in(spec)]
        while stack:
            node = stack.pop()
            if isinstance(node, str):
                found.add(node)
            elif isinstance(node, dict):
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    found.discard("")
    return found
