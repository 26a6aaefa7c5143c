"""Where the engine lives: turn ``settings.engine`` into an ordered list of base URLs.

Every base URL ends in ``/api/conversational-ai-agent`` (``/cn/api/conversational-ai-agent``
for the Chinese mainland); the client appends ``v2/projects/{appid}/...`` to it. The order is the
fail-over order: the client moves to the next URL when it cannot connect to the current one.

* ``https://host[:port][/path]``: used as given (the API path is appended when missing).
* ``http://...``: only on a loopback host (``127.0.0.0/8``, ``localhost``, ``[::1]``), for a
  served sandbox or a local stub; anywhere else it would send credentials in clear, so it is a
  :class:`~reconciler.errors.SettingsError`.
* ``us``, ``eu``, ``ap``, ``cn``: Agora's regional gateways, as the official SDK's domain pool
  knows them (``agora_agent/core/domain.py``): the area's primary region
  prefix, then its fallback, first under the area's preferred domain suffix (``agora.io`` for the
  global areas, ``sd-rtn.com`` for CN), then under the other one. The SDK picks the suffix once
  and rotates region prefixes on failure, so prefixes rotate fastest here too.
* ``sandbox`` is not resolved here: the in-process sandbox is reached through an ASGI transport
  the caller builds, at :data:`SANDBOX_BASE_URL`.

:class:`Endpoints` holds the resolved list and which of them requests go to now.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlunsplit

from reconciler.errors import SettingsError
from reconciler.models.serviceurl import checked_service_url
from reconciler.models.settings import is_sandbox

GLOBAL_API_PATH = "/api/conversational-ai-agent"
"""Path of the engine's REST API under a global gateway host."""
CN_API_PATH = "/cn/api/conversational-ai-agent"
"""Path of the engine's REST API for the Chinese mainland deployment."""

SANDBOX_BASE_URL = "http://sandbox" + GLOBAL_API_PATH
"""Base URL to use with the in-process sandbox's ASGI transport (the host is never resolved)."""

OVERSEA_DOMAIN = "agora.io"
MAINLAND_DOMAIN = "sd-rtn.com"

REGION_PREFIXES: dict[str, tuple[str, ...]] = {
    "us": ("api-us-west-1", "api-us-east-1"),
    "eu": ("api-eu-west-1", "api-eu-central-1"),
    "ap": ("api-ap-southeast-1", "api-ap-northeast-1"),
    "cn": ("api-cn-east-1", "api-cn-north-1"),
}
"""Region host prefixes of each area: primary first, then fallback."""

REGION_SUFFIXES: dict[str, tuple[str, ...]] = {
    "us": (OVERSEA_DOMAIN, MAINLAND_DOMAIN),
    "eu": (OVERSEA_DOMAIN, MAINLAND_DOMAIN),
    "ap": (OVERSEA_DOMAIN, MAINLAND_DOMAIN),
    "cn": (MAINLAND_DOMAIN, OVERSEA_DOMAIN),
}
"""Domain suffixes of each area, in the order they are tried."""

REGIONS = tuple(REGION_PREFIXES)
"""The region names ``settings.engine`` accepts."""


def region_base_urls(region: str) -> list[str]:
    """The base URLs of one area, in fail-over order (see the module docstring)."""
    key = region.strip().lower()
    if key not in REGION_PREFIXES:
        raise SettingsError(
            f"unknown engine region {region!r}: expected one of {', '.join(REGIONS)}"
        )
    path = CN_API_PATH if key == "cn" else GLOBAL_API_PATH
    return [
        f"https://{prefix}.{suffix}{path}"
        for suffix in REGION_SUFFIXES[key]
        for prefix in REGION_PREFIXES[key]
    ]


def normalize_base_url(url: str) -> str:
    """Check an ``https://`` (or loopback ``http://``) engine URL and give its API base URL
    (see :func:`service_base_url`)."""
    return service_base_url(
        url,
        "engine",
        "engine must be 'sandbox', a region name (us, eu, ap, cn) or an https:// URL",
        (GLOBAL_API_PATH, CN_API_PATH),
    )


def service_base_url(url: str, service: str, expected: str, api_paths: Sequence[str]) -> str:
    """Check an ``https://`` (or loopback ``http://``) URL of ``service`` (``engine``,
    ``platform``) and give its API base URL.

    The first of ``api_paths`` is appended unless the URL already ends in one of them; a
    trailing slash is dropped. Userinfo, query strings and fragments are refused (a password in
    a URL would leak into logs), and error messages never echo the URL's userinfo. ``expected``
    says what the setting may be, for a URL of another scheme.
    """
    checked = checked_service_url(service, url, expected)
    if isinstance(checked, str):
        raise SettingsError(checked)
    host, port = checked.host, checked.port
    path = checked.path.rstrip("/")
    if not path.endswith(tuple(api_paths)):
        path += api_paths[0]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((checked.scheme, netloc, path, "", ""))


def resolve_endpoints(engine: str) -> list[str]:
    """Resolve ``settings.engine`` into base URLs, in fail-over order.

    Raises :class:`SettingsError` for ``sandbox`` (the caller builds its ASGI transport and uses
    :data:`SANDBOX_BASE_URL`), for plain http off loopback, and for anything unrecognised.
    """
    value = engine.strip()
    if not value:
        raise SettingsError("engine is empty: expected sandbox, a region name or an https:// URL")
    if is_sandbox(value):
        raise SettingsError(
            "engine 'sandbox' is served in-process: build its ASGI transport and use "
            "SANDBOX_BASE_URL instead of resolving it"
        )
    if value.lower() in REGION_PREFIXES:
        return region_base_urls(value)
    if "://" not in value:
        raise SettingsError(
            f"engine {value!r} is neither 'sandbox', a region name (us, eu, ap, cn) nor a URL"
        )
    return [normalize_base_url(value)]


class Endpoints:
    """The base URLs of one engine in fail-over order, and the one requests go to now.

    The retry transport asks for :attr:`index` before each attempt and calls
    :meth:`fail_over` when it could not connect; the choice is shared by every request of the
    client, so later calls stay on the endpoint that worked.
    """

    def __init__(self, base_urls: Sequence[str]) -> None:
        if not base_urls:
            raise ValueError("an engine needs at least one base URL")
        self._base_urls = [url.rstrip("/") for url in base_urls]
        self._index = 0

    @property
    def index(self) -> int:
        """Position of the endpoint the next attempt goes to."""
        return self._index

    @property
    def current(self) -> str:
        """The base URL the next attempt goes to."""
        return self._base_urls[self._index]

    def base(self, index: int) -> str:
        """The base URL at ``index``."""
        return self._base_urls[index]

    def url(self, index: int, path: str) -> str:
        """The URL of ``path`` (relative, no leading slash) under the endpoint at ``index``."""
        return f"{self._base_urls[index]}/{path}"

    def fail_over(self, failed: int) -> None:
        """Move to the endpoint after ``failed``, which could not be connected to."""
        if len(self._base_urls) > 1:
            self._index = (failed + 1) % len(self._base_urls)
