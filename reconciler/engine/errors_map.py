"""Where engine failures become exceptions: one table for HTTP answers, and the transport failures.

Every operation of :class:`~reconciler.engine.client.EngineClient` sends its non-2xx answers
(after the transport's retries) through :func:`error_for_status`, which looks the status and
reason up in :data:`ERROR_TABLE`:

* 409 ``TaskConflict`` to a join -> :class:`~reconciler.errors.NameConflictError`
  (``resent`` when an earlier attempt may have reached the engine);
* 429 and 5xx -> :class:`~reconciler.errors.EngineUnavailableError`, ``engine unavailable:
  {what} answered HTTP {status} {reason} after N attempts``;
* any other status (401, 403, 404, 422, ...) -> :class:`~reconciler.errors.EngineError`,
  ``engine refused {what}: HTTP {status} {reason}: {detail}``.

429 and 5xx reach the table only once every attempt has failed (the transport retries them).
A 404 that means "no such agent" is an answer to get and leave, not an error: the client
returns it to those operations instead of asking the table. Attempts that got no answer are
worded by :func:`certificate_refused`, :func:`unreachable` and :func:`request_failed`.
Engine-supplied text is always scrubbed first.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from reconciler.engine.call import Call
from reconciler.engine.wire import conflict_holder, error_fields, host_of
from reconciler.errors import EngineError, EngineUnavailableError, NameConflictError

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
    if rule.message == UNAVAILABLE:
        text = f"engine unavailable: {call.what} answered {answered} after {_attempts(call)}"
    else:
        text = f"engine refused {call.what}: {answered}" + (f": {detail}" if detail else "")
    if rule.error is NameConflictError:
        return NameConflictError(
            text,
            status=status,
            reason=reason,
            detail=detail,
            resent=call.maybe_delivered,
            holder=conflict_holder(response),
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
        f"engine refused: {call.what}: the TLS certificate of {host_of(base_url)} could "
        f"not be verified ({why}); verification cannot be turned off: fix "
        "the certificate, or trust its CA with SSL_CERT_FILE"
    )


def unreachable(call: Call, base_url: str, cause: str) -> EngineUnavailableError:
    """Every attempt of ``call`` failed without an answer; ``cause`` describes the last one."""
    return EngineUnavailableError(
        f"engine unavailable: {call.what} failed after {_attempts(call)} "
        f"({cause} at {host_of(base_url)})"
    )


def request_failed(call: Call, base_url: str, exc: httpx.HTTPError) -> EngineError:
    """An HTTP failure that is not worth retrying (a malformed request, an unsupported URL)."""
    return EngineError(
        f"engine request failed: {call.what} ({type(exc).__name__} at {host_of(base_url)})"
    )


def _attempts(call: Call) -> str:
    return f"{call.attempts} attempt{'s' if call.attempts != 1 else ''}"
