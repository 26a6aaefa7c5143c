"""Where the Platform lives: ``settings.platform`` -> its base URL.

* ``preview``: the Platform (Preview), ``https://preview.ai.agora.io/conversational-ai``.
* ``https://host[:port][/path]``: used as given (``/conversational-ai`` appended when missing).
* ``http://...`` only on a loopback host (a served sandbox, ``RECONCILER_PLATFORM=
  http://127.0.0.1:8787``); anywhere else credentials would travel in clear.
* ``sandbox`` is not resolved here: the in-process sandbox is reached through its ASGI
  transport at :data:`~reconciler.engine.platform.rules.SANDBOX_BASE_URL`.
"""

from __future__ import annotations

from reconciler.engine.endpoints import service_base_url
from reconciler.engine.platform.rules import API_PATH, PREVIEW_BASE_URL
from reconciler.errors import SettingsError
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
    return service_base_url(
        value, "platform", "platform must be sandbox, preview or an https:// URL", (API_PATH,)
    )
