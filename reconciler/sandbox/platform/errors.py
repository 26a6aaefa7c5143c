"""The Platform's error answers: ``{"reason", "detail"}`` with the status ``rules`` gives each
reason. Handlers raise the sandbox's :class:`~reconciler.sandbox.errors.ApiFailure`."""

from __future__ import annotations

from ..errors import ApiFailure
from .rules import REASON_STATUS


def failure(reason: str, detail: str, headers: dict[str, str] | None = None) -> ApiFailure:
    """The answer for ``reason`` (its status from ``rules.REASON_STATUS``)."""
    return ApiFailure(REASON_STATUS[reason], reason, detail, headers)


def invalid(field: str, why: str) -> ApiFailure:
    """400 InvalidRequest naming the field (validation stops at the first problem)."""
    return failure("InvalidRequest", f"{field}: {why}" if field else why)


def not_found(what: str, ident: str) -> ApiFailure:
    """404 for a resource of the path that does not exist."""
    return failure("NotFound", f"{what} {ident} was not found.")


def bad_reference(field: str, why: str) -> ApiFailure:
    """400 for a reference (secret, agent, number) to something that does not exist."""
    return failure("InvalidReference", f"{field}: {why}")
