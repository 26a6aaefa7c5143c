"""Which values of a manifest are secret.

A value is sensitive when it was interpolated from the environment (see
:mod:`reconciler.manifests.interpolate`) or when it sits under a key that names a secret. Keys
are compared after normalisation: camelCase is split (``apiKey`` → ``api_key``), ``-`` and ``.``
become ``_`` (``x-api-key`` → ``x_api_key``) and case is ignored. A key is secret-like when it
is one of :data:`SECRET_KEYS` or ends with one of :data:`SECRET_SUFFIXES`. Everything below a
secret-like key is sensitive, so the path of the key is enough.

This marking is what later keeps secrets out of state, plans and output: be generous.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from reconciler.manifests.interpolate import child_path, item_path

SECRET_KEYS: frozenset[str] = frozenset(
    {
        "api_key",
        "key",
        "token",
        "secret",
        "password",
        "access_key",
        "secret_key",
        "encryption_key",
        "encryption_salt",
        "adc_credentials_string",
        "agora_token",
        "customer_secret",
        "app_certificate",
        "authorization",
        "credentials",
    }
)
"""Keys whose values are secret, after normalisation."""

SECRET_SUFFIXES: tuple[str, ...] = ("_key", "_secret", "_token", "_password")
"""Key endings that name a secret (``private_key``, ``client_secret``, ``access_token``)."""

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether values under ``key`` are secret (``api_key``, ``apiKey``, ``X-Api-Key``, ...)."""
    normal = _CAMEL.sub("_", key).lower().replace("-", "_").replace(".", "_")
    return normal in SECRET_KEYS or normal.endswith(SECRET_SUFFIXES)


def secret_key_paths(value: Any, path: str = "") -> set[str]:
    """Paths (canonical form) of every value under a secret-like key in a plain tree."""
    found: set[str] = set()
    _collect(value, path, found)
    return found


def _collect(value: Any, path: str, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret_key(key):
                found.add(child_path(path, key))
            elif isinstance(item, (dict, list)):
                _collect(item, child_path(path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)):
                _collect(item, item_path(path, index), found)


_BOUNDARY = re.compile(r"[.\[]")


def minimal(paths: set[str]) -> frozenset[str]:
    """Drop paths that lie under another path of the set (the parent already covers them)."""
    return frozenset(
        path
        for path in paths
        if not any(path[: m.start()] in paths for m in _BOUNDARY.finditer(path) if m.start())
    )
