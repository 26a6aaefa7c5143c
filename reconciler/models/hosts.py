"""The one rule for "is this host this machine?" (loopback), used by every module.

A host is loopback when it is ``localhost`` (any case, a trailing dot allowed) or an IP literal
in ``127.0.0.0/8`` or ``::1`` (brackets allowed: ``[::1]``). Names that only *start* like a
loopback address (``127.example.com``, ``localhost.example.com``) are not. Plain ``http://`` to
the engine is allowed only on a loopback host; the sandbox warns when it listens elsewhere.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_EXAMPLES = "127.0.0.0/8, localhost, [::1]"
"""How messages name the loopback hosts."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, brackets allowed) is this machine."""
    name = host.strip().removeprefix("[").removesuffix("]").lower().removesuffix(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` is an ``http://`` or ``https://`` URL whose host is loopback."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host) and is_loopback_host(host or "")
