"""Project settings, from ``reconciler.yaml`` (after interpolation) and the environment.

Credentials are never read from the command line: ``customer_id``/``customer_secret`` come from
``AGORA_CUSTOMER_ID``/``AGORA_CUSTOMER_SECRET`` and the certificate from ``app_certificate``
(normally ``${AGORA_APP_CERTIFICATE}``). Secrets are :class:`pydantic.SecretStr`, so ``repr`` and
``str`` never show them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.errors import Problem, ValidationError
from reconciler.models.rollout import (
    DEFAULT_MAX_UNAVAILABLE,
    as_max_unavailable,
    max_unavailable_problem,
)
from reconciler.models.stateurl import (
    INVALID_URL,
    database_identity,
    is_postgres_url,
    shown_url,
    split_postgres_url,
)

SANDBOX_APP_ID = "0123456789abcdef0123456789abcdef"
"""App id the example project uses against the sandbox."""
SANDBOX_ENGINE = "sandbox"
"""The ``engine:`` value that names the in-process sandbox."""


def is_sandbox(engine: str) -> bool:
    """Whether ``engine`` (an ``engine:`` value) names the in-process sandbox: the one test of
    it (case and surrounding spaces do not matter)."""
    return engine.strip().lower() == SANDBOX_ENGINE


class Settings(BaseModel):
    """Everything a command needs to know about the project."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_dir: Path
    config_path: Path | None = None
    environment: str | None = None
    """The environment these settings are of (``None``: the project declares none)."""
    environments: tuple[str, ...] = ()
    """Every environment the project declares, in the order written."""
    variables: dict[str, str] = Field(default_factory=dict)
    """The environment's renamed variables: ``AGORA_CUSTOMER_ID`` is read from the variable
    named here (names only, never values)."""
    engine: str = "sandbox"
    """``sandbox`` (in-process), an ``https://`` URL, ``http://`` on loopback, or a region
    (``us``, ``eu``, ``ap``, ``cn``)."""
    platform: str = "sandbox"
    """Where the Conversational AI Platform is: ``sandbox`` (in-process), ``preview``, an
    ``https://`` URL, or ``http://`` on loopback (a served sandbox's ``http://HOST:PORT``)."""
    app_id: str = SANDBOX_APP_ID
    unmanaged: tuple[str, ...] = ()
    """Resources the manifests may reference without declaring them (``SecretSet/NAME``: a
    secret set made outside this project, referenced as ``$secrets.NAME.<key>``)."""
    auth: Literal["basic", "token"] = "basic"
    app_certificate: SecretStr | None = None
    customer_id: SecretStr | None = None
    customer_secret: SecretStr | None = None
    state: str = "state/agents.json"
    """A path (local state file), or a ``postgresql://`` URL, kept *without* its password."""
    state_password: SecretStr | None = None
    """The password of a ``postgresql://`` state URL, split off by validation (never in a file
    key of its own)."""
    state_secret_params: dict[str, SecretStr] = Field(default_factory=dict)
    """The other secret connection parameters of a ``postgresql://`` state URL (``sslpassword``,
    ...), split off by validation like the password."""
    state_key: str | None = Field(default=None, min_length=1)
    """Which state inside the database is this project's (default: the App ID)."""
    agents_dir: str = "agents.d"
    sandbox_db: str = ".sandbox/engine.db"
    max_concurrent_agents: int = Field(default=20, ge=1)
    parallelism: int = Field(default=10, ge=1, le=500)
    token_ttl_s: int = Field(default=86400, ge=60, le=86400)
    token_renewal_window_s: int = Field(default=7200, ge=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    stop_wait_timeout_s: float = Field(default=120.0, gt=0)
    rotate_before_cap_s: int = Field(default=7200, ge=0, lt=72 * 3600)
    """Agents that reach the engine's 72 h runtime cap within this many seconds are restarted
    ahead of it (rotated, oldest first, ``max_unavailable`` at a time)."""
    max_unavailable: int | str = DEFAULT_MAX_UNAVAILABLE
    """How many managed agents an apply may have down at once for restarts: a count, or a
    percentage of the agents in the manifests (``"25%"``, rounded down, at least 1)."""
    placeholders: tuple[Problem, ...] = ()
    """Secrets (``app_certificate``) that took a ``${VAR:-default}`` placeholder although the
    engine is not the sandbox, each as a located problem: nothing may reach the engine with
    them (:meth:`refuse_placeholders`), while commands that never call it (``validate``,
    ``plan --no-refresh``) still work, as with any secret left unset."""

    unset_variables: tuple[tuple[str, str], ...] = ()
    """Loaded with unset variables allowed (``validate`` only, which never reaches the engine):
    each variable the settings file reads that is not set, with the file that reads it (as
    shown to the user). A key whose value reads one takes its default."""

    def refuse_placeholders(self) -> None:
        """Raise a :class:`ValidationError` if a secret is a placeholder (see ``placeholders``)."""
        if self.placeholders:
            raise ValidationError(self.placeholders, what="settings")

    @field_validator(
        "max_concurrent_agents",
        "parallelism",
        "token_ttl_s",
        "token_renewal_window_s",
        "max_attempts",
        "rotate_before_cap_s",
        "request_timeout_s",
        "stop_wait_timeout_s",
        mode="before",
    )
    @classmethod
    def _refuse_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """``parallelism: true`` is no number (pydantic would take it as 1)."""
        if isinstance(value, bool):
            kind = "int" if cls.model_fields[info.field_name or ""].annotation is int else "float"
            raise PydanticCustomError(f"{kind}_type", "expected a number")
        return value

    @field_validator("max_unavailable", mode="before")
    @classmethod
    def _check_max_unavailable(cls, value: Any) -> Any:
        problem = max_unavailable_problem(value)
        if problem is not None:
            raise PydanticCustomError("max_unavailable", problem)
        return as_max_unavailable(value)

    @model_validator(mode="before")
    @classmethod
    def _split_state_password(cls, data: Any) -> Any:
        """Keep a database password out of ``state`` (and so out of every message and repr)."""
        state = data.get("state") if isinstance(data, dict) else None
        if not isinstance(state, str) or not is_postgres_url(state):
            return data
        try:
            url = split_postgres_url(state)
        except ValueError:  # reported, located, by the settings loader
            return {**data, "state": INVALID_URL}
        data = {**data, "state": url.url}
        if url.password is not None:
            data["state_password"] = url.password
        if url.secret_params:
            data["state_secret_params"] = dict(url.secret_params)
        return data

    def credentials(self) -> list[str]:
        """Every credential the settings hold, to scrub from any text that could quote one: the
        customer key and secret, the app certificate, and the state database's password and
        other secret connection parameters."""
        values = [
            self.customer_id,
            self.customer_secret,
            self.app_certificate,
            self.state_password,
            *self.state_secret_params.values(),
        ]
        return [value.get_secret_value() for value in values if value is not None]

    @property
    def state_is_database(self) -> bool:
        """Whether state lives in PostgreSQL (``state:`` is a ``postgresql://`` URL)."""
        return is_postgres_url(self.state)

    @property
    def state_shown(self) -> str:
        """Where state lives, as shown to people: the file, or the URL with ``***`` as password."""
        if self.state_is_database:
            return shown_url(
                self.state, self.state_password is not None, tuple(self.state_secret_params)
            )
        return str(self.state_path)

    @property
    def effective_state_key(self) -> str:
        return self.state_key or self.app_id

    @property
    def state_identity(self) -> tuple[str, ...]:
        """What names this state among others: its database (however its URL is spelled,
        :func:`~reconciler.models.stateurl.database_identity`) and key, or its file. Two
        environments with the same identity would read and write one state."""
        if self.state_is_database:
            return ("postgresql", *database_identity(self.state), self.effective_state_key)
        return ("file", str(self.state_path.resolve()))

    @property
    def state_path(self) -> Path:
        return self.project_dir / self.state

    @property
    def agents_path(self) -> Path:
        return self.project_dir / self.agents_dir

    @property
    def sandbox_db_path(self) -> Path:
        return self.project_dir / self.sandbox_db

    @property
    def uses_sandbox(self) -> bool:
        """Whether the engine is the in-process sandbox (``engine: sandbox``)."""
        return is_sandbox(self.engine)

    @property
    def engine_label(self) -> str:
        """The engine as a plan names it: ``sandbox (local emulator)``, ``us``, or its URL."""
        if self.uses_sandbox:
            return "sandbox (local emulator)"
        if "://" in self.engine:
            scheme, _, rest = self.engine.partition("://")
            return f"{scheme}://{rest.rpartition('@')[2]}"  # never any user:password@
        return self.engine

    @property
    def platform_label(self) -> str:
        """The Platform as a plan with resources names it: ``sandbox (local emulator)``,
        ``preview``, or its URL (never credentials)."""
        if is_sandbox(self.platform):
            return "sandbox (local emulator)"
        if "://" in self.platform:
            scheme, _, rest = self.platform.partition("://")
            return f"{scheme}://{rest.rpartition('@')[2]}"
        return self.platform

    @property
    def engine_identity(self) -> str:
        """Which engine this is, as a state records it (see :func:`engine_identity`)."""
        return engine_identity(self.engine)

    @property
    def platform_identity(self) -> str:
        """Which Platform this is, as a state's resource records record it: ``sandbox``,
        ``preview``, or its URL in the form of :func:`engine_identity` (never credentials)."""
        return engine_identity(self.platform)

    @property
    def has_credentials(self) -> bool:
        if self.uses_sandbox:
            return True
        if self.auth == "token":
            return self.app_certificate is not None
        return self.customer_id is not None and self.customer_secret is not None


_API_PATHS = ("/api/conversational-ai-agent", "/cn/api/conversational-ai-agent")


def engine_identity(engine: str) -> str:
    """The identity of ``settings.engine``: which engine's agents a state describes.

    ``sandbox`` for the in-process sandbox; a region name (``us``, ``eu``, ``ap``, ``cn``) as
    itself, lower case (a region is a set of gateways the client fails over between); a URL as
    ``scheme://host[:port][/path]``, lower case, without a trailing slash or the global API
    path (so ``https://h`` and ``https://h/api/conversational-ai-agent`` are one engine; the
    mainland path ``/cn/...`` stays, it is another deployment). Never any user-info.
    """
    text = engine.strip()
    if "://" not in text:
        return text.lower()
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return text.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    if path.endswith(_API_PATHS[0]) and not path.endswith(_API_PATHS[1]):
        path = path[: -len(_API_PATHS[0])]
    return f"{parts.scheme.lower()}://{netloc}{path}"
