"""The exception hierarchy: one root, typed subclasses, each with its exit code.

Every error the tool raises on purpose derives from :class:`ReconcilerError`. The CLI is the only
place that catches them, prints ``str(error)`` and exits with ``error.exit_code``. Messages must
never contain a secret value: code that builds a message from user data passes only names, paths
and locations, never values that may be sensitive.

Text from the user (a file name, an agent name, a key) is shown through :func:`printable`, the
one place where control characters are escaped, so a file named ``"a\\nb.yaml"`` or one holding
an ANSI escape cannot forge a line or colour of any text output. :class:`Location` and
:class:`Problem` apply it when written as text; renderers and the CLI apply it to the names and
paths they print. Machine formats (JSON) carry the raw text, escaped by their own encoding.

The class says what failed (and its message names where); the exit code says what a script or
a CI job should do about it, so classes that call for the same response share it:

| exit | constant | meaning | classes |
|---|---|---|---|
| 0 | ``EXIT_OK`` | success | |
| 1 | ``EXIT_ERROR`` | fix something (input, settings, state, engine, an action) | all others |
| 2 | ``EXIT_CHANGES`` | no error: ``--detailed-exitcode`` found changes, ``drift`` found drift | |
| 3 | ``EXIT_CONFLICT`` | another run is in the way | ``LockHeldError``, ``StalePlanError`` |
| 124 | ``EXIT_DEADLINE`` | the deadline (``--timeout``) ran out | ``DeadlineExceededError`` |
| 130 | ``EXIT_INTERRUPTED`` | interrupted; the calls in flight finished first | |
| 143 | ``EXIT_TERMINATED`` | SIGTERM outside apply (apply treats it as an interruption: 130) | |

A usage error (an unknown option, a bad option value, a missing argument, conflicting options)
exits 1, not click's 2: 2 means "changes present", so CI would read a typo as a plan with
changes (terraform, too, exits 1 on a usage error).

A held lock calls for waiting (``--lock-timeout``), a stale saved plan for planning again.
``tests/test_errors.py`` holds every class of the package to this table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_CONFLICT = 3
EXIT_DEADLINE = 124
"""The command's deadline (``--timeout``) ran out: the code GNU ``timeout`` uses."""
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
"""SIGTERM outside apply: 128 + 15, as a shell reports a process the signal ended."""

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` as one line a terminal shows as written: non-printable characters escaped.

    Line breaks, carriage returns, tabs, ANSI escapes and every other character that is not
    printable (C0 and C1 controls, Unicode line separators, bidirectional overrides, ...) become
    ``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u2028`` and the like; all else is kept.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    known = _ESCAPES.get(ch)
    if known is not None:
        return known
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@dataclass(frozen=True)
class Location:
    """A place in a user's file: ``path:line`` (line and column are 1-based; 0 when unknown).

    The column is not part of the text form (messages name files and lines); excerpts and the
    machine formats of ``validate`` show it.
    """

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        path = printable(self.path)
        return f"{path}:{self.line}" if self.line else path


@dataclass(frozen=True)
class Problem:
    """One located problem in user input."""

    location: Location
    message: str
    source: str = field(default="", compare=False)
    """The line of the file the problem is on, as written (a secret-like value hidden); empty
    when unknown. Text output shows it with a caret under the column."""

    def __str__(self) -> str:
        return f"{self.location}: {printable(self.message)}"


class ReconcilerError(Exception):
    """Root of every error the tool raises on purpose."""

    exit_code: int = EXIT_ERROR


class ValidationError(ReconcilerError):
    """User input (manifests, settings) is invalid; carries every problem found."""

    def __init__(self, problems: Sequence[Problem], what: str = "input") -> None:
        self.problems = tuple(problems)
        self.what = what
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in {printable(what)}:"]
        lines.extend(f"  {p}" for p in self.problems)
        super().__init__("\n".join(lines))


class SettingsError(ReconcilerError):
    """The project settings (reconciler.yaml, environment, options) are unusable."""


class EnvironmentChoiceError(SettingsError):
    """No environment, or one the project does not declare, was chosen (``--env``)."""

    def __init__(self, message: str, declared: Sequence[str]) -> None:
        self.declared = tuple(declared)
        super().__init__(message)


class StateError(ReconcilerError):
    """The recorded state cannot be read or written (corrupt, newer version, IO failure)."""


class StateBindingError(StateError):
    """The state belongs to another App ID or engine than the project's settings name."""


class LockHeldError(ReconcilerError):
    """Another process holds the state lock."""

    exit_code = EXIT_CONFLICT


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the state or the manifests."""

    exit_code = EXIT_CONFLICT


class PlanError(ReconcilerError):
    """The plan cannot be carried out as asked (e.g. it would exceed the concurrency cap)."""


class EngineError(ReconcilerError):
    """The engine answered with an error, or could not be reached.

    ``status`` is the HTTP status (0 when no answer arrived), ``reason`` the engine's stable code
    (``TaskConflict``, ``TaskNotFound``, ...) and ``detail`` its human text.
    """

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", detail: str = ""
    ) -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        super().__init__(message)


class ResendAwareError(EngineError):
    """A refusal (of the engine or the Platform) that an earlier attempt of the same request may
    have caused.

    ``resent`` is True when an earlier attempt of the same request may have reached the service
    (it timed out, lost its connection after sending, or got a 5xx), so what refused it may be
    that attempt's own doing; False when the first attempt already met the refusal.
    """

    def __init__(
        self, message: str, *, status: int, reason: str, detail: str = "", resent: bool = False
    ) -> None:
        self.resent = resent
        super().__init__(message, status=status, reason=reason, detail=detail)


class NameConflictError(ResendAwareError):
    """A join answered 409 ``TaskConflict``: an active agent already holds the name.

    With ``resent`` the holder may be the agent an earlier attempt of this join started; without
    it the name was held by someone else before this join was sent. ``holder`` is the agent id
    the answer names as holding the name, if it names one: fit to report, never evidence by
    itself that the holder is ours.
    """

    def __init__(self, message: str, *, holder: str | None = None, **answer: Any) -> None:
        self.holder = holder
        super().__init__(message, **answer)


class EngineUnavailableError(EngineError):
    """The engine could not be reached, timed out, or kept failing after every retry."""


class DeadlineExceededError(EngineUnavailableError):
    """The command's deadline (``--timeout``) ran out while it waited on the engine.

    The message names the deadline and what was being waited for. Raised by the engine's retry
    transport (an engine call the deadline cut short is as unavailable as one that failed every
    attempt: a join it cut short may have reached the engine) and by apply once it has finished
    the calls in flight.
    """

    exit_code = EXIT_DEADLINE


class EngineProtocolError(EngineError):
    """The engine answered with something that does not follow its API (bad JSON, wrong shape)."""


class PreconditionFailedError(ResendAwareError):
    """The Platform answered 412 ``PreconditionFailed``: the resource changed since the ETag
    sent in ``If-Match`` (someone else changed it: read it again, never overwrite blindly).

    With ``resent`` the change that moved the ETag may be this request's own.
    """


class ResourceInUseError(EngineError):
    """The Platform answered 409: the resource is referenced (an agent uses the secret set, a
    number routes to the agent, an unfinished campaign uses the agent or number); remove the
    reference first."""


class AlreadyExistsError(EngineError):
    """The Platform answered 409: a secret set with this name, or this phone number, already
    exists."""


class IdempotencyConflictError(EngineError):
    """The Platform answered 409 ``IdempotencyKeyConflict``: a session was already started
    with this key."""


class OutcomeUnknownError(EngineUnavailableError):
    """A request that must not be sent twice (a create) failed after it may have reached the
    Platform: whether it was carried out is unknown. Look for its effect (list and match)
    before trying again."""


class ApplyError(ReconcilerError):
    """One or more actions of an apply failed; the others were carried out and recorded."""


class OperationError(ReconcilerError):
    """A state operation (``import``, ``state mv``, ``state rm``) was refused; nothing changed.

    The message names the agent, why it was refused and what to do instead.
    """
