"""Configuration of the sandbox engine.

`SandboxConfig` is the frozen start-up configuration given to `create_app`. The values that
tests and demos may want to change while a server runs (PCU limit, delays, ...) are copied into
a mutable `Settings` object at start-up and can be changed through `/_sandbox/settings`;
fault-injection values are copied into the fault injector (see `faults.py`).

Credentials are plain fields here; the CLI reads them from environment variables and never from
command-line values.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

#: Default maximum runtime of one agent (the engine's 72 hour cap).
MAX_RUNTIME_S = 72 * 3600.0
#: How long the engine keeps an ended agent visible (list and GET cover about 7 days).
RETENTION_S = 7 * 86400.0
#: Default idle timeout of an agent whose join body does not set `idle_timeout`.
DEFAULT_IDLE_TIMEOUT_S = 30
#: Default `list` window when `from_time` is not given: the last 2 hours.
LIST_DEFAULT_WINDOW_S = 2 * 3600.0
#: Default `list` page size.
LIST_DEFAULT_LIMIT = 20
#: Default `list` state filter: RUNNING (2) only.
LIST_DEFAULT_STATES = frozenset({2})
#: Who is in a channel the sandbox has never seen before an agent joins it.
PRESENCE_MODES = ("empty", "occupied")
#: How agent tokens are checked: `strict` (signature, App ID, channel, uid, expiry) or `lenient`
#: (only the expiry is read; a bad token does not stop the agent).
TOKEN_CHECKS = ("strict", "lenient")
#: Whether a join name must be unique among the App ID's active agents or within a channel only.
NAME_SCOPES = ("app", "channel")


@dataclass(frozen=True)
class FaultRates:
    """The random-fault settings: what a sandbox starts with (part of :class:`SandboxConfig`)
    and what ``/_sandbox/faults`` changes while it runs (the fault injector's, ``faults.py``).
    Each is checked by :func:`check_fault_setting`."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit: float = 0.0
    retry_after_s: int = 1
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in FAULT_SETTINGS:
            check_fault_setting(name, getattr(self, name))


FAULT_SETTINGS = tuple(f.name for f in dataclasses.fields(FaultRates))
"""The names of the random-fault settings, in order."""


def check_fault_setting(key: str, value: Any) -> None:
    """Raise ValueError unless ``value`` is a valid value of the random-fault setting ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{key} must be a number >= 0")
    if key in ("error_rate", "rate_limit", "drop_rate") and value > 1:
        raise ValueError(f"{key} must be between 0 and 1")
    if key == "error_status" and value not in ERROR_REASONS:
        raise ValueError(f"error_status must be one of {sorted(ERROR_REASONS)}")
    if key == "retry_after_s" and not isinstance(value, int):
        raise ValueError("retry_after_s must be an integer")


@dataclass(frozen=True)
class SandboxConfig(FaultRates):
    """Start-up configuration of one sandbox engine.

    Attributes:
        customer_id / customer_secret: the credentials accepted by `Authorization: Basic`.
        app_certificate: App Certificate used to verify `agora token=` headers (AccessToken2).
            None means token auth cannot be verified and is always rejected with 401.
        pcu_limit: concurrent active agents allowed per App ID (422 above it).
        concurrency_reason: the `reason` of that 422 (legacy name: `ResourceQuotaLimitExceeded`).
        start_delay_s: STARTING lasts this long after join; 0 answers RUNNING at once.
        stop_delay_s: STOPPING lasts this long after leave (or any other exit) before STOPPED.
        require_token: whether `properties.token` is required at join; None = required exactly
            when an App Certificate is configured (400 MissingRequiredField without one).
        token_check: `strict` (default): with a certificate, the agent token must be signed
            with it for the App ID, the agent's channel and uid, and not be expired; join still
            answers 200 and the agent goes FAILED `token_failure_delay_s` later, naming the
            cause; `update` with such a token is refused (400). `lenient`: the token is only
            read for its expiry.
        token_failure_delay_s: how long after join an agent with a bad token fails.
        presence: who is in a channel first used by a join: `empty` (nobody) or `occupied`
            (the joining agent's remote users).
        idle_before_join: whether the idle countdown runs from the join when none of the
            agent's remote users has been present yet (the real engine's behaviour is unknown).
        name_scope: `channel` (default, as documented): a name is unique among the active
            agents of its channel; `app`: among the App ID's active agents.
        latency_ms / jitter_ms: added latency of every engine request (jitter is seeded).
        error_rate: probability of an injected `error_status` answer (503 ServiceUnavailable).
        rate_limit: probability of an injected 429 with `Retry-After: retry_after_s`.
        drop_rate: probability that the connection is dropped before the request is handled.
        seed: seeds agent ids and fault draws; None = unseeded (system randomness).
        db_path: SQLite file; None keeps everything in memory (lost when the app goes away).
        db_read_only: `db_path` is read, never written: the sandbox works on an in-memory copy
            of it (empty without the file), discarded when it closes (read-only commands).
        max_runtime_s: the hard cap on one agent's runtime (72 h).
        get_retention_s: an ended agent answers GET (and appears in list) for this long after it
            stopped; afterwards GET answers 404 TaskNotFound.
        webhooks: `(url, secret)` pairs that receive the notification events (`ncs.py`).
        webhook_app_id: when set, `webhooks` receive the events of this App ID only (as a real
            project's webhook does); None: those of every App ID.
    """

    customer_id: str = "sandbox"
    customer_secret: str = "sandbox"
    app_certificate: str | None = None
    pcu_limit: int = 20
    concurrency_reason: str = "ConcurrencyLimitExceeded"
    start_delay_s: float = 0.0
    stop_delay_s: float = 1.0
    require_token: bool | None = None
    token_check: str = "strict"
    token_failure_delay_s: float = 1.0
    presence: str = "empty"
    idle_before_join: bool = True
    name_scope: str = "channel"
    seed: int | None = None
    db_path: str | None = None
    db_read_only: bool = False
    max_runtime_s: float = MAX_RUNTIME_S
    get_retention_s: float = RETENTION_S
    webhooks: tuple[tuple[str, str], ...] = dataclasses.field(default=(), repr=False)
    webhook_app_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pcu_limit < 0:
            raise ValueError("pcu_limit must be >= 0")
        for name in ("start_delay_s", "stop_delay_s", "token_failure_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_runtime_s <= 0:
            raise ValueError("max_runtime_s must be > 0")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}")

    def replace(self, **changes: Any) -> SandboxConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: The `reason` the sandbox answers with for each injectable server-error status.
ERROR_REASONS: dict[int, str] = {
    500: "InternalError",
    502: "InternalError",
    503: "ServiceUnavailable",
    504: "TaskOperationTimeout",
}


_CHOICES: dict[str, tuple[str, ...]] = {
    "token_check": TOKEN_CHECKS,
    "presence": PRESENCE_MODES,
    "name_scope": NAME_SCOPES,
}


@dataclass
class Settings:
    """Lifecycle settings that can change while the sandbox runs (`/_sandbox/settings`)."""

    pcu_limit: int
    concurrency_reason: str
    start_delay_s: float
    stop_delay_s: float
    require_token: bool | None
    token_check: str
    token_failure_delay_s: float
    presence: str
    idle_before_join: bool
    name_scope: str
    max_runtime_s: float
    get_retention_s: float

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Settings:
        """The runtime settings a fresh sandbox starts with: the config's values of them."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        """JSON view of the settings."""
        return dataclasses.asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; raises ValueError on unknown keys or bad values."""
        known = set(self.as_dict())
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        staged = dataclasses.replace(self)
        for key, value in changes.items():
            _check_setting(key, value)
            setattr(staged, key, value)
        for key in known:
            setattr(self, key, getattr(staged, key))


def _check_setting(key: str, value: Any) -> None:
    if key == "concurrency_reason":
        if not isinstance(value, str) or not value:
            raise ValueError("concurrency_reason must be a non-empty string")
        return
    if key == "require_token":
        if value is not None and not isinstance(value, bool):
            raise ValueError("require_token must be true, false or null")
        return
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise ValueError(f"{key} must be one of {', '.join(_CHOICES[key])}")
        return
    if key == "idle_before_join":
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be a boolean")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{key} must be a number >= 0")
    if key == "pcu_limit" and not isinstance(value, int):
        raise ValueError("pcu_limit must be an integer")
    if key == "max_runtime_s" and value <= 0:
        raise ValueError("max_runtime_s must be > 0")


def config_from_env(
    environ: dict[str, str] | None = None,
    *,
    certificate_env: str = "AGORA_APP_CERTIFICATE",
    secret_env: str = "AGORA_CUSTOMER_SECRET",
    customer_id: str | None = None,
    **values: Any,
) -> SandboxConfig:
    """A config whose secrets come from the environment, never from arguments.

    The customer id is `customer_id`, else `AGORA_CUSTOMER_ID`; the customer secret comes from
    `secret_env` (both default to "sandbox"), the App Certificate from `certificate_env` (unset
    or empty: no certificate, token auth rejected). `values` sets the other fields.
    """
    env = dict(os.environ) if environ is None else environ
    return SandboxConfig(
        customer_id=customer_id or env.get("AGORA_CUSTOMER_ID") or "sandbox",
        customer_secret=env.get(secret_env) or "sandbox",
        app_certificate=env.get(certificate_env) or None,
        **values,
    )
