"""Where the state lives: a file path, or a ``postgresql://`` URL split into parts and a password.

``state:`` in ``reconciler.yaml`` is either a path (the local backend) or a PostgreSQL URL
(``postgresql://`` or ``postgres://``). A URL is split at load time into the URL *without* its
secrets, the password (from the userinfo or a ``password=`` query parameter) and the other secret
connection parameters (:func:`is_secret_param`: ``sslpassword``, ``oauth_client_secret``, ...), so
that the text kept in the settings, shown in messages and written anywhere can never hold them.
:func:`shown_url` renders the URL for people, with ``***`` where a secret was given.

:func:`mask_connection_text` is the one place that masks a connection's secrets in a text (a
database error may echo connection parameters): the known secrets in every encoding, any secret
parameter in URL (``?sslpassword=...``) or key=value form (``sslpassword='...'``), and the
password of a URL's userinfo.

TLS: :func:`tls_defaults` gives the connection parameters that make a connection to a host that
is not on this machine (loopback by :mod:`reconciler.models.hosts`, or a Unix socket) require a
verified TLS certificate (``sslmode=verify-full`` with the system's CA store) unless the URL
names an ``sslmode`` itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from reconciler.models.hosts import is_loopback_host
from reconciler.models.masking import mask_secrets
from reconciler.models.secrets import is_secret_key

__all__ = [
    "POSTGRES_SCHEMES",
    "PostgresUrl",
    "database_identity",
    "is_postgres_url",
    "is_secret_param",
    "mask_connection_text",
    "shown_url",
    "split_postgres_url",
    "tls_defaults",
]

POSTGRES_SCHEMES = ("postgresql", "postgres")
MASK = "***"
SECRET_PARAMS: frozenset[str] = frozenset({"password", "sslpassword", "oauth_client_secret"})
"""libpq connection parameters that hold a secret (``sslpassword`` is the passphrase of the
client key ``sslkey``); any parameter whose name is secret-like by the rule of
:mod:`reconciler.models.secrets` is treated as one too."""


def is_secret_param(name: str) -> bool:
    """Whether the connection parameter ``name`` holds a secret (``password``,
    ``sslpassword``, ``oauth_client_secret``, ...)."""
    return name.lower() in SECRET_PARAMS or is_secret_key(name)


def is_postgres_url(value: str) -> bool:
    """Whether a ``state:`` value names a PostgreSQL database rather than a file."""
    scheme, sep, _ = value.partition("://")
    return bool(sep) and scheme.lower() in POSTGRES_SCHEMES


@dataclass(frozen=True)
class PostgresUrl:
    """A PostgreSQL URL without its password, and whether it had one."""

    url: str
    """The URL with its secrets removed (the userinfo's password, secret query parameters)."""
    password: str | None
    hosts: tuple[str, ...]
    """Every host named (``host1,host2``), lower case, brackets kept for IPv6; may be empty."""
    query: Mapping[str, str]
    """The query parameters kept in :attr:`url`."""
    secret_params: Mapping[str, str] = field(default_factory=dict)
    """The secret query parameters other than ``password`` (``sslpassword``, ...)."""


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
    secrets: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for key, item in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password":
            password = item
        elif is_secret_param(key):
            secrets[key] = item
        else:
            query[key] = item
            kept.append((key, item))
    ports = [_host_port(unquote(part.strip()))[1] for part in hostinfo.split(",")]
    ports.extend(query.get("port", "").split(","))
    if not all(_is_port(port) for port in ports if port):
        raise ValueError("not a valid URL (a port must be a number from 1 to 65535)")
    # libpq also takes the hosts as query parameters (postgresql:///db?host=db.example.com)
    named = [hostinfo, query.get("host", ""), query.get("hostaddr", "")]
    hosts = tuple(_host(part) for text in named for part in text.split(",") if _host(part))
    netloc = (f"{user}@" if user else "") + hostinfo
    kept_query = urlencode(kept, quote_via=quote)
    # not urlunsplit: it writes a URL without a host as postgresql:/db, which is not a URL
    url = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{kept_query}" if kept_query else "")
    return PostgresUrl(
        url=url, password=password or None, hosts=hosts, query=query, secret_params=secrets
    )


INVALID_URL = "postgresql://invalid-url"
"""What ``state`` holds when a URL could not be split (its problem is reported with its line)."""


DEFAULT_PORT = "5432"


def database_identity(url: str) -> tuple[str, str, str, str]:
    """Which database (and schema search path) ``url`` (a PostgreSQL URL without its secrets)
    connects to, however it is spelled: ``(user, hosts with ports, database, options)``.

    ``postgres://`` and ``postgresql://``, host names in any case, the default port written or
    not, and connection parameters that choose nothing (``application_name``,
    ``connect_timeout``, ``sslmode``, ...) in any order name one database; the ``host``,
    ``port``, ``dbname``, ``user`` and ``options`` parameters are read as libpq reads them
    (``options`` may set ``search_path``: another schema holds other tables). The database
    defaults to the user's name, as in libpq.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if not at:
        userinfo, hostinfo = "", parts.netloc
    user = query.get("user") or unquote(userinfo.partition(":")[0])
    default_port = query.get("port") or DEFAULT_PORT
    hosts = []
    for part in (query.get("host") or query.get("hostaddr") or hostinfo).split(","):
        host, port = _host_port(unquote(part.strip()).lower())
        hosts.append(f"{host}:{port or default_port}")
    database = query.get("dbname") or unquote(parts.path.lstrip("/")) or user
    return user, ",".join(hosts), database, query.get("options", "")


def _is_port(text: str) -> bool:
    """Whether ``text`` is a TCP port: a number from 1 to 65535."""
    return text.isascii() and text.isdigit() and 1 <= int(text) <= 65535


def _host_port(part: str) -> tuple[str, str]:
    """``host[:port]`` (``[v6]:port`` for IPv6) as host and port (empty: none written)."""
    if part.startswith("["):
        host, _, rest = part.partition("]")
        return host + "]", rest.lstrip(":")
    if part.count(":") == 1:
        host, _, port = part.partition(":")
        return host, port
    return part, ""


def _host(part: str) -> str:
    part = unquote(part.strip()).lower()
    if part.startswith("["):
        return part.partition("]")[0] + "]"
    return part.rpartition(":")[0] if part.count(":") == 1 else part


def shown_url(url: str, has_password: bool, secret_params: Iterable[str] = ()) -> str:
    """``url`` (already without its secrets) as shown to people: ``***`` marks a password and
    each secret parameter (``?sslpassword=***``)."""
    names = list(secret_params)
    if not has_password and not names:
        return url
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if has_password:
        userinfo, at, hostinfo = parts.netloc.rpartition("@")
        user = userinfo if at else ""
        hostinfo = hostinfo if at else parts.netloc
        netloc = f"{user}:{MASK}@{hostinfo}" if user else f":{MASK}@{hostinfo}"
    if names:
        query = "&".join([*([query] if query else []), *(f"{quote(n)}={MASK}" for n in names)])
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


_NAMES = "|".join(sorted(SECRET_PARAMS))
_SECRET_WORD = r"[a-z0-9_]*(?:password|passwd|passphrase|secret)"
_QUERY_PARAM = re.compile(rf"([?&](?:{_NAMES}|{_SECRET_WORD})=)[^&#\s]*", re.IGNORECASE)
_KEYWORD_PARAM = re.compile(
    rf"(?<![\w?&%])((?:{_NAMES}|{_SECRET_WORD})\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'&]\S*)",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


def mask_connection_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` (a database error, a connection string) with every secret of a connection
    masked as ``***``: each of ``secrets`` in any encoding, the value of any secret parameter
    in URL form (``?sslpassword=...&``) or key=value form (``password='it''s' sslpassword=x``),
    and the password of a URL's userinfo (``postgresql://user:...@host``)."""
    text = mask_secrets(text, secrets, MASK)
    text = _QUERY_PARAM.sub(lambda m: m.group(1) + MASK, text)
    text = _KEYWORD_PARAM.sub(lambda m: m.group(1) + MASK, text)
    return _USERINFO.sub(lambda m: m.group(1) + ":" + MASK + "@", text)


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
