"""HTTP routes of the Platform API under ``/conversational-ai/v1/projects/{appid}``.

Every request goes through the pipeline of the engine routes: request log -> random faults
(before authentication) -> authentication (401 ``InvalidPermission``) -> targeted fault rules
-> the operation -> its JSON answer. Every answer, errors included, carries an
``Agora-Request-Id``; resources that have versions also carry ``ETag``. Fault rules match a
route by its operation id (``rules.OPERATIONS``), ``name`` by a secret set's name and
``agent_id`` by the id in the path (agent, number, session or campaign).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from ..admission import JsonAnswer, admit, dropped_after, log_entry
from ..errors import ApiFailure
from ..faults import DroppedResponse
from . import agents, campaigns, numbers, secret_sets, sessions
from .context import Answer, Platform, Req
from .errors import failure
from .rules import PREFIX, REQUEST_ID_HEADER

Operation = Callable[[Req], Answer]
Endpoint = Callable[[Request], Awaitable[Response | DroppedResponse]]
_ID_PARAMS = ("agent_id", "number_id", "session_id", "campaign_id", "campaign_action")


def _with_id(response: Response, request_id: str) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _endpoint(platform: Platform, operation_id: str, operation: Operation) -> Endpoint:
    sb = platform.sandbox

    async def endpoint(request: Request) -> Response | DroppedResponse:
        request_id = secrets.token_hex(16)
        params = {k: str(v) for k, v in request.path_params.items()}
        app_id = params.pop("appid")
        ident = next((params[k] for k in _ID_PARAMS if k in params), None)
        if ident is not None and operation_id == "campaign-action":
            ident = ident.rpartition(":")[0] or ident
        name = params.get("name")
        entry = log_entry(
            sb, request, operation_id, app_id, ident, name=name, request_id=request_id
        )
        try:
            admitted = await admit(
                sb,
                request,
                entry,
                route=operation_id,
                app_id=app_id,
                ident=ident,
                body_methods=("POST", "PUT", "PATCH"),
                name_of=lambda _raw: params.get("name"),
            )
            if isinstance(admitted, DroppedResponse):
                return admitted
            req = Req(
                platform,
                app_id,
                params,
                dict(request.query_params),
                {k.lower(): v for k, v in request.headers.items()},
                admitted.raw,
                operation_id,
            )
            answer = operation(req)
            lost = dropped_after(admitted, entry)
            if lost is not None:
                return lost
            entry["status"] = answer.status
            response = JsonAnswer(answer.body, status_code=answer.status, headers=answer.headers)
            return _with_id(response, request_id)
        except ApiFailure as exc:
            entry["status"] = exc.status
            return _with_id(exc.response(), request_id)

    return endpoint


_SECRETS = "/secrets"
_SET = "/secrets/{name}"
_KEY = "/secrets/{name}/keys/{key}"
_AGENT = "/agents/{agent_id}"
_NUMBER = "/numbers/{number_id}"
_SESSION = "/sessions/{session_id}"
TABLE: tuple[tuple[str, str, str, Operation], ...] = (
    ("create-secret-set", "POST", _SECRETS, secret_sets.create),
    ("list-secret-sets", "GET", _SECRETS, secret_sets.SECRET_SETS.list),
    ("retrieve-secret-set", "GET", _SET, secret_sets.SECRET_SETS.retrieve),
    ("replace-secret-set", "PUT", _SET, secret_sets.replace),
    ("update-secret-set", "PATCH", _SET, secret_sets.update),
    ("delete-secret-set", "DELETE", _SET, secret_sets.delete),
    ("set-secret-key", "PUT", _KEY, secret_sets.set_key),
    ("delete-secret-key", "DELETE", _KEY, secret_sets.delete_key),
    ("create-agent", "POST", "/agents", agents.create),
    ("list-agents", "GET", "/agents", agents.AGENTS.list),
    ("retrieve-agent", "GET", _AGENT, agents.AGENTS.retrieve),
    ("update-agent", "PATCH", _AGENT, agents.update),
    ("delete-agent", "DELETE", _AGENT, agents.delete),
    ("create-number", "POST", "/numbers", numbers.create),
    ("list-numbers", "GET", "/numbers", numbers.NUMBERS.list),
    ("retrieve-number", "GET", _NUMBER, numbers.NUMBERS.retrieve),
    ("update-number", "PATCH", _NUMBER, numbers.update),
    ("delete-number", "DELETE", _NUMBER, numbers.delete),
    ("start-session", "POST", "/sessions", sessions.start),
    ("start-ephemeral-session", "POST", "/sessions/ephemeral", sessions.start_ephemeral),
    ("list-sessions", "GET", "/sessions", sessions.list_sessions),
    ("retrieve-session", "GET", _SESSION, sessions.retrieve),
    ("update-session", "PATCH", _SESSION, sessions.update),
    ("stop-session", "POST", _SESSION + "/stop", sessions.stop),
    ("create-campaign", "POST", "/campaigns", campaigns.create),
    ("list-campaigns", "GET", "/campaigns", campaigns.list_campaigns),
    ("retrieve-campaign", "GET", "/campaigns/{campaign_id}", campaigns.retrieve),
    ("campaign-action", "POST", "/campaigns/{campaign_action}", campaigns.action),
    ("delete-campaign", "DELETE", "/campaigns/{campaign_id}", campaigns.delete),
)
"""Operation id, method, path under ``rules.PREFIX``, handler."""


def platform_routes(platform: Platform) -> list[BaseRoute]:
    """The Platform routes, then one catch-all under ``/conversational-ai/``, for every method
    (a mount matches paths only), that answers an unknown path (404 ``NotFound``) or method
    (405 ``MethodNotAllowed``, with ``Allow``) in the Platform's error shape, with its request
    id."""
    routes: list[Route] = [
        Route(PREFIX + path, _endpoint(platform, op, handler), methods=[method], name=op)
        for op, method, path, handler in TABLE
    ]

    async def unmatched(request: Request) -> Response:
        path: str = request.scope["path"]  # the full path (a mount only sets root_path)
        allowed = sorted(
            {
                method
                for route in routes
                if route.path_regex.match(path)
                for method in route.methods or ()
            }
            - {"HEAD"}
        )
        headers = {}
        if allowed:
            error = failure("MethodNotAllowed", f"{request.method} is not allowed on {path}.")
            headers["Allow"] = ", ".join(allowed)
        else:
            error = failure("NotFound", f"No endpoint {request.method} {path}.")
        response = _with_id(error.response(), secrets.token_hex(16))
        response.headers.update(headers)
        return response

    async def catch_all(scope: Scope, receive: Receive, send: Send) -> None:
        response = await unmatched(Request(scope, receive))
        await response(scope, receive, send)

    return [*routes, Mount("/conversational-ai", app=catch_all)]
