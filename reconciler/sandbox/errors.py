"""Engine error answers: `{"detail": "...", "reason": "..."}` with an HTTP status.

The statuses and reasons are listed in docs/engine-api.md.

Handlers raise `ApiFailure`; the route wrapper turns it into the JSON answer. Unknown routes get
the API gateway's own shape, `{"message": "no Route matched with those values"}`.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

NO_ROUTE = {"message": "no Route matched with those values"}


class ApiFailure(Exception):
    """An engine error to answer with."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}
        """More members of the body (409 names the agent that holds the name)."""

    def response(self) -> JSONResponse:
        """The JSON answer."""
        return JSONResponse(
            {"detail": self.detail, "reason": self.reason, **self.extra},
            status_code=self.status,
            headers=self.headers or None,
        )


def not_found() -> ApiFailure:
    """404 TaskNotFound, with the body observed from the real service."""
    return ApiFailure(
        404,
        "TaskNotFound",
        "The session was not found, has already ended, or failed to start.",
    )


def bad_body(detail: str) -> ApiFailure:
    """400 InvalidRequestBody: not JSON, or a field of the wrong type."""
    return ApiFailure(400, "InvalidRequestBody", detail)


def missing(field: str) -> ApiFailure:
    """400 MissingRequiredField."""
    return ApiFailure(400, "MissingRequiredField", f"{field}: field required")


def invalid(field: str, why: str) -> ApiFailure:
    """400 InvalidFieldValue."""
    return ApiFailure(400, "InvalidFieldValue", f"{field}: {why}")


def no_route_response() -> JSONResponse:
    """The gateway's 404 for a path (or method) no route matches."""
    return JSONResponse(NO_ROUTE, status_code=404)
