"""``ETag`` and ``If-Match`` (documented: a stale ``If-Match`` fails with 412
``PreconditionFailed``); which operations require it is in ``rules``.

``If-Match`` holds one or more quoted entity tags separated by commas, or ``*``; strong
comparison (a weak ``W/`` tag never matches), as RFC 9110 says for ``If-Match``.
``If-None-Match: *`` (set-secret-key) passes only when the key does not exist yet.
"""

from __future__ import annotations

from .context import Req
from .errors import failure
from .rules import IF_MATCH_REQUIRED, WILDCARD_IF_MATCH


def _tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def check_if_match(req: Req, current: str | None, what: str) -> None:
    """Refuse the request unless its ``If-Match`` (if any) names ``current`` (None: absent)."""
    header = req.header("if-match")
    if header is None:
        if req.operation in IF_MATCH_REQUIRED:
            raise failure(
                "PreconditionRequired",
                f"If-Match is required: retrieve {what} and pass its ETag.",
            )
        return
    tags = _tags(header)
    if current is not None and (
        (WILDCARD_IF_MATCH and "*" in tags) or any(t == current for t in tags)
    ):
        return
    raise failure(
        "PreconditionFailed",
        f"{what} has changed since the ETag in If-Match. Retrieve it, apply your change "
        "again, and retry with the new ETag.",
    )


def check_if_none_match(req: Req, exists: bool, what: str) -> None:
    """``If-None-Match: *``: refuse when ``what`` exists (412)."""
    header = req.header("if-none-match")
    if header is None:
        return
    if header.strip() != "*":
        raise failure("InvalidRequest", "If-None-Match: only * is supported")
    if exists:
        raise failure("PreconditionFailed", f"{what} exists (If-None-Match: *).")
