"""Where the state lives: a file path, or a ``postgresql://`` URL split into parts and a password.

``state:`` in ``reconciler.yaml`` is either a path (the local backend) or a PostgreSQL URL
(``postgresql://`` or ``postgres://``). A URL is split at load time into the URL *without* its
password and the password itself (from the userinfo or a ``password=`` query parameter), so that
the text kept in the settings, shown in messages and written anywhere can never hold it.
:func:`shown_url` renders the URL for people, with ``***`` where a password was given.

TLS: :func:`tls_defaults` gives the connection parameters that make a connection to a host that
is not on this machine (loopback by :mod:`reconciler.models.hosts`, or a Unix socket) require a
verified TLS certificate (``sslmode=verify-full`` with the system's CA store) unless the URL
names an ``sslmode`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from reconciler.models.hosts import is_loopback_host

__all__ = [
    "POSTGRES_SCHEMES",
    "PostgresUrl",
    "is_postgres_url",
    "shown_url",
    "split_postgres_url",
    "tls_defaults",
]

POSTGRES_SCHEMES = ("postgresql", "postgres")
MASK = "***"


def is_postgres_url(value: str) -> bool:
    """Whether a ``state:`` value names a PostgreSQL database rather than a file."""
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.lower() in POSTGRES_SCHEMES


@dataclass(frozen=True)
class PostgresUrl:
    """A PostgreSQL URL without its password, and whether it had one."""

    url: str
    """The URL with the password removed (from the userinfo and from the query)."""
    password: str | None
    hosts: tuple[str, ...]
    """Every host named (``host1,host2``), lower case, brackets kept for IPv6; may be empty."""
    query: Mapping[str, str]


def split_postgres_url(value: str) -> PostgresUrl:
    """Split ``value`` (a PostgreSQL URL) into the URL without password and the password.

    Raises :class:`ValueError` with a message that holds no part of the URL.
    """
    try:
        parts = urlsplit(value)
    except ValueError:  # unbalanced [ ] around an IPv6 address
        raise ValueError("not a valid URL (unbalanced brackets in the host)") from None
    if parts.scheme.lower() not in POSTGRES_SCHEMES:
        raise ValueError("a database URL must start with postgresql:// or postgres://")
    if parts.fragment or "@" in parts.path:
        raise ValueError(
            "not a valid URL (a #, / or @ in the user name or password must be "
            "percent-encoded: %23, %2F, %40)"
        )
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if not at:
        userinfo, hostinfo = "", parts.netloc
    user, colon, raw_password = userinfo.partition(":")
    password: str | None = unquote(raw_password) if colon else None
    query: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for key, item in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password":
            password = item
            continue
        query[key] = item
        kept.append((key, item))
    hosts = tuple(_host(part) for part in hostinfo.split(",") if _host(part))
    netloc = (f"{user}@" if user else "") + hostinfo
    url = urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept, quote_via=quote), ""))
    return PostgresUrl(url=url, password=password or None, hosts=hosts, query=query)


INVALID_URL = "postgresql://invalid-url"
"""What ``state`` holds when a URL could not be split (its problem is reported with its line)."""


def _host(part: str) -> str:
    part = unquote(part.strip()).lower()
    if part.startswith("["):
        return part.partition("]")[0] + "]"
    return part.rpartition(":")[0] if part.count(":") == 1 else part


def shown_url(url: str, has_password: bool) -> str:
    """``url`` (already without password) as shown to people: ``***`` marks a password."""
    if not has_password:
        return url
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    user = userinfo if at else ""
    hostinfo = hostinfo if at else parts.netloc
    netloc = f"{user}:{MASK}@{hostinfo}" if user else f":{MASK}@{hostinfo}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _is_local(host: str) -> bool:
    """A loopback host, or a Unix socket directory (``/run/postgresql``)."""
    return is_loopback_host(host) or host.startswith("/")


def tls_defaults(url: PostgresUrl, environ: Mapping[str, str]) -> dict[str, str]:
    """Connection parameters to add so that a remote database is reached over verified TLS.

    Nothing is added when the URL sets ``sslmode`` or when every host is on this machine (no host
    means a Unix socket, unless ``PGHOST`` names one).
    """
    if "sslmode" in url.query:
        return {}
    hosts = url.hosts
    if not hosts and environ.get("PGHOST"):
        hosts = tuple(_host(part) for part in environ["PGHOST"].split(","))
    if all(_is_local(host) for host in hosts):
        return {}
    params = {"sslmode": "verify-full"}
    if "sslrootcert" not in url.query and not environ.get("PGSSLROOTCERT"):
        params["sslrootcert"] = "system"
    return params


def quote_password(password: str) -> str:
    """``password`` as it would appear in a URL's userinfo (for scrubbing messages)."""
    return quote(password, safe="")
