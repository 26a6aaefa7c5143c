"""The one rule for "is this URL a usable engine or Platform location?".

``validate`` (at the setting's line) and the engine clients (when they resolve a base URL) ask
the same question here, so a URL one accepts the other never refuses. A usable URL is
``https://`` with a host, or ``http://`` on the loopback interface only (anywhere else
credentials would travel in clear); it carries no userinfo (a password in a URL leaks into logs
and shell history: credentials come from the environment), no query or fragment, and a valid
port. Messages never echo the URL's userinfo.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from reconciler.models.hosts import LOOPBACK_EXAMPLES, is_loopback_host


@dataclass(frozen=True, slots=True)
class ServiceUrl:
    """A checked service URL: its lower-case scheme, host (no brackets) and explicit port."""

    scheme: str
    host: str
    port: int | None
    path: str


def service_url_problem(service: str, url: str, expected: str) -> str | None:
    """Why ``url`` (the value of setting ``service``) is not a usable URL, or ``None``.

    ``expected`` says what the setting may be, for text that is no http(s) URL at all.
    """
    checked = _check(service, url, expected)
    return checked if isinstance(checked, str) else None


def checked_service_url(service: str, url: str, expected: str) -> ServiceUrl | str:
    """``url`` taken apart when usable, else the reason it is not (see the module docstring)."""
    return _check(service, url, expected)


def _check(service: str, url: str, expected: str) -> ServiceUrl | str:
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port  # raises ValueError on a port out of range or not a number
    except ValueError:
        return f"{service}: not a valid URL (a bad port, or brackets that do not close)"
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not parts.netloc:
        return expected
    if not host:
        return f"{service}: the URL has no host"
    if scheme == "http" and not is_loopback_host(host):
        return (
            f"{service}: plain http:// is allowed only on the loopback interface "
            f"({LOOPBACK_EXAMPLES}); use https://"
        )
    if parts.username is not None or parts.password is not None:
        return (
            f"{service}: a URL must not contain credentials; use auth: basic with "
            "AGORA_CUSTOMER_ID / AGORA_CUSTOMER_SECRET in the environment"
        )
    if parts.query or parts.fragment:
        return f"{service}: the URL must not have a query or fragment"
    return ServiceUrl(scheme=scheme, host=host, port=port, path=parts.path)
