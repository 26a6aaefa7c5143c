"""The sandbox engine's state and operations, independent of HTTP.

`Sandbox` owns the store, the clock, the runtime settings, the fault injector, the agent-id
generator and the request log. `engine_ops.py` implements the engine operations on top of it and
`routes_*.py` expose them over HTTP.

Token lifetimes: a token's own times (`issue_ts`, `expire`) are read against the *real* clock at
the moment the sandbox receives it, and the remaining lifetime then runs on the sandbox clock.
So a token minted now with 24 h of life expires 24 h of sandbox time after it was handed over,
even when the sandbox clock has been advanced before: advancing the clock ages the tokens the
sandbox holds, not the ones clients mint afterwards.
"""

from __future__ import annotations

import json
import random
import string
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import accesstoken
from .clock import Clock
from .config import SandboxConfig, Settings
from .faults import FaultInjector
from .lifecycle import MSG_TOKEN_INVALID, exit_event, refresh, view
from .presence import settle
from .store import AgentRecord, Store

ID_ALPHABET = string.ascii_uppercase + string.digits
ID_LENGTH = 32
_ID_SPACE = len(ID_ALPHABET) ** ID_LENGTH
_ID_BITS = _ID_SPACE.bit_length()
REQUEST_LOG_SIZE = 10_000


@dataclass(frozen=True)
class TokenInfo:
    """What the sandbox derived from an agent's `properties.token`."""

    issued_at: float | None
    expires_at: float | None
    verified: bool | None
    problem: str | None


class Sandbox:
    """One sandbox engine: several App IDs side by side in one store."""

    def __init__(
        self, config: SandboxConfig, time_source: Callable[[], float] | None = None
    ) -> None:
        self.config = config
        self.store = Store(config.db_path, read_only=config.db_read_only)
        self.clock = Clock(self.store, time_source)
        self.settings = Settings.from_config(config)
        self.faults = FaultInjector.from_config(config)
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._request_seq = 0
        self._ids = self._id_generator()
        self.epoch = 0
        """Incremented by :meth:`reset`; a request that began in an earlier epoch is dropped."""
        self.on_reset: list[Callable[[], None]] = []
        """Called by :meth:`reset` (the Platform API restarts its id sequence)."""

    def _id_generator(self) -> random.Random:
        seed = self.config.seed
        return random.Random(f"agent-ids:{seed}") if seed is not None else random.SystemRandom()

    def close(self) -> None:
        """Release the store."""
        self.store.close()

    # -- helpers used by the operations -----------------------------------------------------

    def now(self) -> float:
        """Sandbox time."""
        return self.clock.now()

    def require_token(self) -> bool:
        """Whether join needs `properties.token` (default: when a certificate is configured)."""
        if self.settings.require_token is not None:
            return self.settings.require_token
        return self.config.app_certificate is not None

    def new_agent_id(self) -> str:
        """A fresh 32-character upper-case alphanumeric id, unique across App IDs."""
        while True:
            # One draw of random bits per id (a system-random draw per character made ids a
            # noticeable part of a join's cost), read as 32 base-36 digits; uniform because
            # draws at or above 36**32 are rejected.
            number = self._ids.getrandbits(_ID_BITS)
            if number >= _ID_SPACE:
                continue
            digits = []
            for _ in range(ID_LENGTH):
                number, digit = divmod(number, len(ID_ALPHABET))
                digits.append(ID_ALPHABET[digit])
            agent_id = "".join(digits)
            if not self.store.agent_id_exists(agent_id):
                return agent_id

    def token_info(
        self, app_id: str, token: str | None, now: float, *, channel: str, uid: str
    ) -> TokenInfo:
        """Issue time, expiry (on the sandbox clock) and check of an agent token.

        `problem` names why an agent with this token cannot join its channel; it is only set
        under the strict check with a certificate (without one, the engine checks no token).
        """
        cert = self.config.app_certificate
        strict = self.settings.token_check == "strict" and cert is not None
        if not token:
            problem = "no token was given, but the App Certificate is enabled" if strict else None
            return TokenInfo(None, None, False if strict else None, problem)
        try:
            parsed = accesstoken.parse(token)
        except accesstoken.TokenError as exc:
            return TokenInfo(None, None, False if cert else None, str(exc) if strict else None)
        expires_at = now + (parsed.rtc_expires_at - self.clock.real())
        if cert is None:
            return TokenInfo(float(parsed.issue_ts), expires_at, None, None)
        why = accesstoken.join_problem(
            parsed, app_certificate=cert, app_id=app_id, channel=channel, uid=uid
        )
        if why is None and expires_at <= now:
            why = "token has expired"
        return TokenInfo(float(parsed.issue_ts), expires_at, why is None, why if strict else None)

    def apply_token(self, record: AgentRecord, info: TokenInfo, now: float) -> None:
        """Record a join token's derived expiry; a bad one makes the agent fail shortly after.

        The join itself is accepted (200), as the real engine does: the agent fails when it
        tries to join its RTC channel, `token_failure_delay_s` later, naming the cause.
        """
        record.token_issued_at = info.issued_at
        record.token_expires_at = info.expires_at
        record.token_verified = info.verified
        if record.failed_at is not None or record.created_at != now:
            return
        why = info.problem
        if why is None and info.expires_at is not None and info.expires_at <= now:
            why = "token has expired"
        if why is not None:
            # The agent never gets into its channel, so the token has no expiry to run out.
            record.token_expires_at = None
            record.failed_at = now + self.settings.token_failure_delay_s
            record.fail_message = MSG_TOKEN_INVALID.format(why=why)

    def settle_channel(
        self,
        app_id: str,
        channel: str,
        now: float,
        extra: tuple[AgentRecord, ...] = (),
        seeds: tuple[AgentRecord, ...] | None = None,
    ) -> None:
        """Recompute the idle countdowns of a channel after a change of who is in it.

        `seeds`: the agents that arrived or whose end moved (None: the users changed).
        """
        settle(
            self.store,
            app_id,
            channel,
            now,
            idle_before_join=self.settings.idle_before_join,
            extra=extra,
            seeds=seeds,
        )

    # -- request log ------------------------------------------------------------------------

    def log_request(self, **fields: Any) -> dict[str, Any]:
        """Append an entry to the request log and return it (to be completed with the status)."""
        self._request_seq += 1
        entry = {"seq": self._request_seq, "at": self.now(), **fields}
        self.requests.append(entry)
        return entry

    # -- control views ----------------------------------------------------------------------

    def agent_view(self, record: AgentRecord, now: float) -> dict[str, Any]:
        """Everything about one agent (GET /_sandbox/agents)."""
        status = view(record, now)
        end = exit_event(record)
        idle_deadline = None
        if record.users_left_at is not None and record.idle_timeout > 0:
            idle_deadline = record.users_left_at + record.idle_timeout
        present = self.store.present_uids(record.app_id, record.channel)
        token_left = None
        if record.token_expires_at is not None:
            token_left = record.token_expires_at - now
        return {
            "app_id": record.app_id,
            "agent_id": record.agent_id,
            "name": record.name,
            "channel": record.channel,
            "mode": record.mode,
            "status": status.status,
            "message": status.message,
            "create_ts": int(record.created_at),
            "created_at": record.created_at,
            "running_at": record.running_at,
            "stop_ts": int(status.stop_at) if status.stop_at is not None else 0,
            "stop_requested_at": record.stop_requested_at,
            "scheduled_exit": {"at": end.at, "message": end.message},
            "terminal_at": record.terminal_at,
            "failed_at": record.failed_at,
            "idle_timeout": record.idle_timeout,
            "agent_rtc_uid": record.agent_uid,
            "remote_rtc_uids": record.remote_list(),
            "users_present": present,
            "remote_seen": record.remote_seen,
            "users_left_at": record.users_left_at,
            "idle_deadline": idle_deadline,
            "status_override": record.status_override,
            "override_until": record.override_until,
            "token": {
                "issued_at": record.token_issued_at,
                "expires_at": record.token_expires_at,
                "seconds_left": token_left,
                "verified": record.token_verified,
            },
            "join_body": _loads(record.join_body),
            "properties": record.properties_obj(),
            "updates": record.updates_list(),
            "history": record.history_list(),
        }

    def save(self, record: AgentRecord) -> None:
        """Recompute `terminal_at` and write the record back."""
        refresh(record)
        self.store.save(record)

    def reset(self) -> None:
        """Forget every agent, the clock offset, faults, settings and the request log.

        Engine requests still in progress (e.g. held back by a delay rule) belong to the world
        before the reset: they are dropped instead of carried out (see :attr:`epoch`).
        """
        self.epoch += 1
        self.store.reset()
        self.clock.reset()
        self.settings = Settings.from_config(self.config)
        self.faults = FaultInjector.from_config(self.config)
        self.requests.clear()
        self._request_seq = 0
        self._ids = self._id_generator()
        for hook in self.on_reset:
            hook()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
