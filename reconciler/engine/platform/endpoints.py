"""Where the Platform lives: ``settings.platform`` -> its base URL.

* ``preview``: the Platform (Preview), ``https://preview.ai.agora.io/conversational-ai``.
* ``https://host[:port][/path]``: used as given (``/conversational-ai`` appended when missing).
* ``http://...`` only on a loopback host (a served sandbox, ``RECONCILER_PLATFORM=
  http://127.0.0.1:8787``); anywhere else credentials would travel in clear.
* ``sandbox`` is not resolved here: the in-process sandbox is reached through its ASGI
  transport at :data:`~reconciler.engine.platform.rules.SANDBOX_BASE_URL`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from reconciler.engine.platform.rules import API_PATH, PREVIEW_BASE_URL
from reconciler.errors import SettingsError
from reconciler.models.hosts import LOOPBACK_EXAMPLES, is_loopback_host
from reconciler.models.settings import is_sandbox


def resolve_platform(platform: str) -> str:
    """The base URL of ``settings.platform`` (not ``sandbox``); SettingsError otherwise."""
    value = platform.strip()
    if value.lower() == "preview":
        return PREVIEW_BASE_URL
    if is_sandbox(value):
        raise SettingsError(
            "platform 'sandbox' is served in-process: use its ASGI transport and "
            "SANDBOX_BASE_URL instead of resolving it"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"platform URL is not a valid URL: {exc}") from None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise SettingsError("platform must be sandbox, preview or an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise SettingsError("platform URL must not contain credentials")
    if parts.query or parts.fragment:
        raise SettingsError(f"platform URL must not have a query or fragment: {host}")
    if scheme == "http" and not is_loopback_host(host):
        raise SettingsError(
            f"platform URL http://{host} is not on this machine: plain http is allowed only on "
            f"loopback ({LOOPBACK_EXAMPLES}); use https://"
        )
    path = parts.path.rstrip("/")
    if not path.endswith(API_PATH):
        path += API_PATH
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, path, "", ""))
