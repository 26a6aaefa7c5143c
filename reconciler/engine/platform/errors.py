"""Exceptions of the Platform client, raised through the one error table
(:mod:`reconciler.engine.errors_map`). Each is an :class:`~reconciler.errors.EngineError`
with ``status``, ``reason`` and ``detail``, so code that handles engine errors handles these.
"""

from __future__ import annotations

from reconciler.errors import EngineError, EngineUnavailableError


class PreconditionFailedError(EngineError):
    """412 ``PreconditionFailed``: the resource changed since the ETag sent in ``If-Match``
    (someone else changed it: read it again, never overwrite blindly).

    ``resent`` is True when an earlier attempt of the same request may have reached the
    Platform: the change that moved the ETag may then be this request's own.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 412,
        reason: str = "PreconditionFailed",
        detail: str = "",
        resent: bool = False,
    ) -> None:
        self.resent = resent
        super().__init__(message, status=status, reason=reason, detail=detail)


class ResourceInUseError(EngineError):
    """409: the resource is referenced (an agent uses the secret set, a number routes to the
    agent, an unfinished campaign uses the agent or number); remove the reference first."""


class AlreadyExistsError(EngineError):
    """409: a secret set with this name, or this phone number, already exists."""


class IdempotencyConflictError(EngineError):
    """409 ``IdempotencyKeyConflict``: a session was already started with this key."""


class OutcomeUnknownError(EngineUnavailableError):
    """A request that must not be sent twice (a create) failed after it may have reached the
    Platform: whether it was carried out is unknown. Look for its effect (list and match)
    before trying again."""
