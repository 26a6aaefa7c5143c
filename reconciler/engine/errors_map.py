"""Where engine failures become exceptions: one table for HTTP answers, and the transport failures.

Every operation of :class:`~reconciler.engine.client.EngineClient` sends its non-2xx answers
(after the transport's retries) through :func:`error_for_status`, which looks the status and
reason up in :data:`ERROR_TABLE`:

* 409 ``TaskConflict`` to a join -> :class:`~reconciler.errors.NameConflictError`
  (``resent`` when an earlier attempt may have reached the engine);
* 429 and 5xx -> :class:`~reconciler.errors.EngineUnavailableError`, ``engine unavailable:
  {what} answered HTTP {status} {reason} after N attempts``;
* the Platform's reasons (:mod:`reconciler.engine.platform.rules`): 412
  ``PreconditionFailed`` -> ``PreconditionFailedError``, 409 in-use reasons ->
  ``ResourceInUseError``, 409 already-exists reasons -> ``AlreadyExistsError``, 409
  ``IdempotencyKeyConflict`` -> ``IdempotencyConflictError``;
* any other status (401, 403, 404, 422, ...) -> :class:`~reconciler.errors.EngineError`,
  ``engine refused {what}: HTTP {status} {reason}: {detail}``.

Messages name the service the call went to (``engine`` or ``platform``, from the call). A call
that must not be sent twice (``Call.resend_safe`` False) and may have been delivered fails with
``OutcomeUnknownError`` instead of the table's unavailable error.

429 and 5xx reach the table only once every attempt has failed (the transport retries them).
A 404 that means "no such agent" is an answer to get and leave, not an error: the client
returns it to those operations instead of asking the table. Attempts that got no answer are
worded by :func:`certificate_refused`, :func:`unreachable` and :func:`request_failed`.
The command's deadline (``--timeout``) running out while an operation waits is worded by
:func:`deadline_exceeded`. Engine-supplied text is always scrubbed first.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from reconciler.engine.call import Call
from reconciler.engine.platform.rules import (
    EXISTS_REASONS,
    IDEMPOTENCY_CONFLICT,
    IN_USE_REASONS,
    PRECONDITION_FAILED,
)
from reconciler.engine.wire import conflict_holder, error_fields, host_of
from reconciler.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    EngineError,
    EngineUnavailableError,
    IdempotencyConflictError,
    NameConflictError,
    OutcomeUnknownError,
    PreconditionFailedError,
    ResourceInUseError,
)
from reconciler.models.deadline import Deadline

REFUSED = "refused"
"""Message form ``engine refused {what}: HTTP {status} {reason}: {detail}``."""
UNAVAILABLE = "unavailable"
"""Message form ``engine unavailable: {what} answered HTTP {status} {reason} after N attempts``."""


@dataclass(frozen=True)
class ErrorRule:
    """One row of the table: answers with ``low <= status <= high`` (and ``reason``, when set)
    to one of ``operations`` (any, when empty) raise ``error`` worded as ``message``."""

    low: int
    high: int
    error: type[EngineError]
    message: str
    reason: str = ""
    operations: frozenset[str] = frozenset()

    def matches(self, status: int, reason: str, operation: str) -> bool:
        """Whether this row applies to an answer."""
        return (
            self.low <= status <= self.high
            and (not self.reason or reason == self.reason)
            and (not self.operations or operation in self.operations)
        )


ERROR_TABLE: tuple[ErrorRule, ...] = (
    ErrorRule(409, 409, NameConflictError, REFUSED, "TaskConflict", frozenset({"join"})),
    ErrorRule(412, 412, PreconditionFailedError, REFUSED, PRECONDITION_FAILED),
    *(ErrorRule(409, 409, ResourceInUseError, REFUSED, r) for r in sorted(IN_USE_REASONS)),
    *(ErrorRule(409, 409, AlreadyExistsError, REFUSED, r) for r in sorted(EXISTS_REASONS)),
    ErrorRule(409, 409, IdempotencyConflictError, REFUSED, IDEMPOTENCY_CONFLICT),
    ErrorRule(429, 429, EngineUnavailableError, UNAVAILABLE),
    ErrorRule(500, 599, EngineUnavailableError, UNAVAILABLE),
    ErrorRule(0, 999, EngineError, REFUSED),
)
"""Status and reason -> exception and message; the first matching row wins."""


def rule_for(status: int, reason: str, operation: str) -> ErrorRule:
    """The row of :data:`ERROR_TABLE` an answer falls under."""
    return next(rule for rule in ERROR_TABLE if rule.matches(status, reason, operation))


def error_for_status(response: httpx.Response, call: Call) -> EngineError:
    """The exception for a non-2xx ``response`` to ``call``, as :data:`ERROR_TABLE` says."""
    status = response.status_code
    reason, detail = (call.scrub(text) for text in error_fields(response))
    rule = rule_for(status, reason, call.operation)
    answered = f"HTTP {status}" + (f" {reason}" if reason else "")
    service = call.service
    if rule.message == UNAVAILABLE:
        text = f"{service} unavailable: {call.what} answered {answered} after {_attempts(call)}"
        if call.outcome_unknown:
            return OutcomeUnknownError(
                f"{text}; it may have been carried out: look for its effect before retrying",
                status=status,
                reason=reason,
                detail=detail,
            )
    else:
        text = f"{service} refused {call.what}: {answered}" + (f": {detail}" if detail else "")
    if rule.error is NameConflictError:
        return NameConflictError(
            text,
            status=status,
            reason=reason,
            detail=detail,
            resent=call.maybe_delivered,
            holder=conflict_holder(response),
        )
    if rule.error is PreconditionFailedError:
        return rule.error(
            text, status=status, reason=reason, detail=detail, resent=call.maybe_delivered
        )
    return rule.error(text, status=status, reason=reason, detail=detail)


def certificate_failure(exc: BaseException) -> str | None:
    """Why TLS verification failed, when that is what ``exc`` (or its cause) is; else None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "certificate verify failed")
        seen = seen.__cause__ or seen.__context__
    return None


def certificate_refused(call: Call, base_url: str, why: str) -> EngineError:
    """The engine's TLS certificate could not be verified (never retried, never bypassed)."""
    return EngineError(
        f"{call.service} refused: {call.what}: the TLS certificate of {host_of(base_url)} could "
        f"not be verified ({why}); verification cannot be turned off: fix "
        "the certificate, or trust its CA with SSL_CERT_FILE"
    )


def unreachable(call: Call, base_url: str, cause: str) -> EngineUnavailableError:
    """Every attempt of ``call`` failed without an answer; ``cause`` describes the last one."""
    text = (
        f"{call.service} unavailable: {call.what} failed after {_attempts(call)} "
        f"({cause} at {host_of(base_url)})"
    )
    if call.outcome_unknown:
        return OutcomeUnknownError(
            f"{text}; it may have been carried out: look for its effect before retrying"
        )
    return EngineUnavailableError(text)


def deadline_exceeded(
    call: Call, base_url: str, cause: str, deadline: Deadline, wait_s: float | None
) -> DeadlineExceededError:
    """``deadline`` ran out (or would, during the ``wait_s`` before the next attempt) while
    ``call`` was retried after ``cause``."""
    when = (
        f"runs out before the next attempt (due in {wait_s:.0f}s)"
        if wait_s is not None and not deadline.expired()
        else "ran out"
    )
    failed = (
        f"{call.what} failed after {_attempts(call)} ({cause} at {host_of(base_url)})"
        if call.attempts
        else f"{call.what} was not sent"
    )
    return DeadlineExceededError(
        f"gave up waiting for the engine: {deadline} {when}; {failed}. Pass a longer "
        "--timeout (or set RECONCILER_TIMEOUT) to wait longer"
    )


def request_failed(call: Call, base_url: str, exc: httpx.HTTPError) -> EngineError:
    """An HTTP failure that is not worth retrying (a malformed request, an unsupported URL)."""
    return EngineError(
        f"{call.service} request failed: {call.what} ({type(exc).__name__} at {host_of(base_url)})"
    )


def _attempts(call: Call) -> str:
    return f"{call.attempts} attempt{'s' if call.attempts != 1 else ''}"
