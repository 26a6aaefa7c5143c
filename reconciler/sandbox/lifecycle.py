"""Agent status, computed from stored timestamps against the sandbox clock.

Nothing here runs in the background: an agent's status at any instant is a pure function of its
record and `now`, so advancing the clock (or restarting the server) is enough to move agents on.

Rules (docs/engine-api.md, "Agent status"):

* join → STARTING until `running_at` (= created_at + start delay, often equal) → RUNNING.
* The agent *exits* at the earliest of: a leave request; created_at + max runtime (72 h);
  the start of the idle countdown (`users_left_at`, see `presence.py`) + `idle_timeout` (when
  > 0; 0 disables only the idle exit);
  the expiry of the token it was given (`properties.token`, renewed by `update`).
  From the exit it is STOPPING for its stop delay, then STOPPED; GET shows why in `message`.
* A crash (control route) makes it FAILED from that instant, with a message; so does a bad
  token, shortly after the join (`failed_at` is then in the future).
* A RUNNING agent shows RECOVERING or IDLE while a control route holds it there
  (`status_override`, until `override_until` or until cleared).
* "Active" = STARTING, RUNNING, RECOVERING, IDLE or STOPPING: such an agent holds its name
  (409 TaskConflict) and counts against the PCU limit. A name is free again once its agent is
  STOPPED or FAILED.
"""

from __future__ import annotations

from dataclasses import dataclass

from .store import AgentRecord

STATUS_CODES: dict[str, int] = {
    "IDLE": 0,
    "STARTING": 1,
    "RUNNING": 2,
    "STOPPING": 3,
    "STOPPED": 4,
    "RECOVERING": 5,
    "FAILED": 6,
}
CODE_STATUSES: dict[int, str] = {code: name for name, code in STATUS_CODES.items()}
ACTIVE = frozenset({"STARTING", "RUNNING", "RECOVERING", "IDLE", "STOPPING"})
#: The statuses a control route can hold a RUNNING agent in.
OVERRIDES = frozenset({"RECOVERING", "IDLE"})
TERMINAL = frozenset({"STOPPED", "FAILED"})

MSG_LEAVE = "agent exits with reason: leave requested"
MSG_IDLE = "agent exits with reason: idle timeout, no remote user in the channel for {secs}s"
MSG_MAX_RUNTIME = "agent exits with reason: maximum runtime of {hours:g}h reached"
MSG_TOKEN = "agent exits with reason: token expired"
MSG_CRASH = "agent exits with reason: crashed"
MSG_TOKEN_INVALID = "agent failed to join the channel: {why}"


@dataclass(frozen=True)
class Exit:
    """When and why an agent exits (the start of STOPPING)."""

    at: float
    message: str


@dataclass(frozen=True)
class View:
    """An agent's status at one instant."""

    status: str
    message: str
    stop_at: float | None

    @property
    def code(self) -> int:
        """Numeric status code (the `state` filter of list)."""
        return STATUS_CODES[self.status]

    @property
    def active(self) -> bool:
        """STARTING, RUNNING, RECOVERING, IDLE or STOPPING."""
        return self.status in ACTIVE


def exit_event(record: AgentRecord) -> Exit:
    """The earliest scheduled exit of the agent, as things stand."""
    candidates: list[Exit] = []
    if record.stop_requested_at is not None:
        candidates.append(Exit(record.stop_requested_at, MSG_LEAVE))
    candidates.append(
        Exit(
            record.created_at + record.max_runtime_s,
            MSG_MAX_RUNTIME.format(hours=record.max_runtime_s / 3600),
        )
    )
    if record.users_left_at is not None and record.idle_timeout > 0:
        candidates.append(
            Exit(
                record.users_left_at + record.idle_timeout,
                MSG_IDLE.format(secs=record.idle_timeout),
            )
        )
    if record.token_expires_at is not None:
        candidates.append(Exit(max(record.token_expires_at, record.created_at), MSG_TOKEN))
    return min(candidates, key=lambda e: e.at)


def terminal_at(record: AgentRecord) -> float:
    """The instant the agent becomes STOPPED or FAILED (it is active before it)."""
    stopped = exit_event(record).at + record.stop_delay_s
    if record.failed_at is not None:
        return min(stopped, record.failed_at)
    return stopped


def view(record: AgentRecord, now: float) -> View:
    """The agent's status, message and stop time at `now`."""
    end = exit_event(record)
    stopped = end.at + record.stop_delay_s
    if record.failed_at is not None and record.failed_at <= now and record.failed_at <= stopped:
        return View("FAILED", record.fail_message or MSG_CRASH, record.failed_at)
    if now >= stopped:
        return View("STOPPED", end.message, stopped)
    if now >= end.at:
        return View("STOPPING", end.message, None)
    if now < record.running_at:
        return View("STARTING", "", None)
    if record.status_override in OVERRIDES and (
        record.override_until is None or now < record.override_until
    ):
        return View(record.status_override, "", None)
    return View("RUNNING", "", None)


def expired(record: AgentRecord, now: float, retention_s: float) -> bool:
    """Whether an ended agent has been gone longer than the retention (GET then answers 404)."""
    return now >= terminal_at(record) + retention_s


def refresh(record: AgentRecord) -> None:
    """Recompute the stored `terminal_at` after any change to the record's timestamps."""
    record.terminal_at = terminal_at(record)
