"""The exception hierarchy: one root, typed subclasses, each with a distinct exit code.

Every error the tool raises on purpose derives from :class:`ReconcilerError`. The CLI is the only
place that catches them, prints ``str(error)`` and exits with ``error.exit_code``. Messages must
never contain a secret value: code that builds a message from user data passes only names, paths
and locations, never values that may be sensitive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_CONFLICT = 3
EXIT_DEADLINE = 124
"""The command's deadline (``--timeout``) ran out: the code GNU ``timeout`` uses."""


@dataclass(frozen=True)
class Location:
    """A place in a user's file: ``path:line`` (line is 1-based; 0 when unknown)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class Problem:
    """One located problem in user input."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ReconcilerError(Exception):
    """Root of every error the tool raises on purpose."""

    exit_code: int = EXIT_ERROR


class ValidationError(ReconcilerError):
    """User input (manifests, settings) is invalid; carries every problem found."""

    def __init__(self, problems: Sequence[Problem], what: str = "input") -> None:
        self.problems = tuple(problems)
        self.what = what
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in {what}:"]
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


class NameConflictError(EngineError):
    """A join answered 409 ``TaskConflict``: an active agent already holds the name.

    ``resent`` is True when an earlier attempt of the same join may have reached the engine
    (it timed out, lost its connection after sending, or got a 5xx), so the holder may be the
    agent that attempt started; False when the first attempt already met the conflict, so the
    name was held by someone else before this join was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 409,
        reason: str = "TaskConflict",
        detail: str = "",
        resent: bool = False,
    ) -> None:
        self.resent = resent
        super().__init__(message, status=status, reason=reason, detail=detail)


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


class ApplyError(ReconcilerError):
    """One or more actions of an apply failed; the others were carried out and recorded."""


class OperationError(ReconcilerError):
    """A state operation (``import``, ``state mv``, ``state rm``) was refused; nothing changed.

    The message names the agent, why it was refused and what to do instead.
    """
