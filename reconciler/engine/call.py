"""One engine operation as it travels through the HTTP layers: what it is and what happened.

The client attaches a :class:`Call` to each request it sends (in the request's
``extensions``). The retry transport reads it to aim each attempt at an endpoint, to name the
operation in retry events and metrics, and to scrub engine text it quotes; it records there how
many attempts were made and whether a failed one may have reached the engine anyway. The error
table (:mod:`reconciler.engine.errors_map`) reads the same record to word the exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

CALL_EXTENSION = "reconciler.call"
"""The key of the :class:`Call` in ``httpx.Request.extensions``."""


@dataclass
class Call:
    """One engine operation, sent once and retried by the transport as needed.

    ``operation`` names the route (``join``, ``list``, ...) for metrics and retry events;
    ``what`` describes the call in messages (``join of 'room-1'``); ``path`` is the URL path
    under an endpoint's base URL (``v2/projects/{appid}/join``); ``scrub`` removes every secret
    known for this call from engine-supplied text.

    The transport updates ``attempts`` and ``maybe_delivered``: the latter becomes True once an
    attempt failed in a way that may still have reached the engine (a timeout or a dropped
    connection after sending, a 5xx), but not for a refused connection or a 429.

    ``service`` names who is called in messages (``engine``, or ``platform`` for the
    Conversational AI Platform). ``resend_safe`` is False for a call that must not be sent
    again once an attempt may have been delivered (a Platform create, which has no idempotency
    key: a second attempt could make a second resource); the transport then stops there, and
    the error says the outcome is unknown.
    """

    operation: str
    what: str
    path: str
    scrub: Callable[[str], str]
    attempts: int = 0
    maybe_delivered: bool = False
    service: str = "engine"
    resend_safe: bool = True

    @property
    def outcome_unknown(self) -> bool:
        """Whether a failure of this call may hide a carried-out request that must not be
        repeated (look for its effect before trying again)."""
        return self.maybe_delivered and not self.resend_safe

    def attach(self, request: httpx.Request) -> httpx.Request:
        """``request`` carrying this call (returned for chaining)."""
        request.extensions[CALL_EXTENSION] = self
        return request


def call_of(request: httpx.Request) -> Call:
    """The :class:`Call` a request carries; a request sent without one is a programming error."""
    call = request.extensions.get(CALL_EXTENSION)
    if not isinstance(call, Call):
        raise TypeError("engine requests must carry a Call (see Call.attach)")
    return call
