"""Helpers of the Platform API tests: paths, valid bodies and small create calls, all through
the HTTP client (never the sandbox's internals)."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from tests.sandbox.sandbox_helpers import APP_ID, Client

PLATFORM = "/conversational-ai/v1/projects"
SECRET_VALUE = "sk-live-value-0123456789"
NUMBER = "+14155550100"
SIP_PASSWORD = "sip-password-987654"


def papi(suffix: str, app_id: str = APP_ID) -> str:
    """The path of a Platform route, e.g. papi("/agents")."""
    return f"{PLATFORM}/{app_id}{suffix}"


def agent_body(name: str = "support", **changes: Any) -> dict[str, Any]:
    """A saved agent that references ``$secrets.llm_keys.openai``."""
    body: dict[str, Any] = {
        "agent_name": name,
        "instructions": "You are the support agent.",
        "messages": [{"role": "assistant", "content": "Hello"}],
        "variables": {"customer_name": {"description": "who calls", "extract": False}},
        "greeting": {"text": "Hi {{customer_name}}"},
        "llm": {
            "vendor": "openai",
            "model": "gpt-4o-mini",
            "params": {"temperature": 0.2, "stop": ["END"]},
            "credential": {"mode": "byok", "fields": {"api_key": "$secrets.llm_keys.openai"}},
        },
        "tts": {"vendor": "microsoft", "credential": {"mode": "managed"}},
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def number_body(agent_id: str | None = None, number: str = NUMBER) -> dict[str, Any]:
    """A phone number with SIP auth, routed to ``agent_id`` when given."""
    body: dict[str, Any] = {
        "number": number,
        "description": "Support line",
        "sip_trunk": {
            "name": "acme",
            "hostname": "acme.pstn.example.com",
            "transport": "tls",
            "auth": {"username": "acme", "password": SIP_PASSWORD},
            "allowed_ips": ["54.172.60.1", "54.172.60.0/30"],
        },
    }
    if agent_id is not None:
        body["inbound"] = {"agent": agent_id, "call_policy": {"max_call_duration_seconds": 1800}}
    return copy.deepcopy(body)


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of an answer that must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, status: int, reason: str) -> str:
    """The detail of an error answer that must have ``status`` and ``reason``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"reason", "detail"}, body
    assert body["reason"] == reason, body
    assert response.headers.get("agora-request-id"), response.headers
    detail: str = body["detail"]
    return detail


def create_set(
    client: Client, name: str = "llm_keys", secrets: dict[str, str] | None = None
) -> httpx.Response:
    """POST /secrets (201 expected)."""
    body = {"name": name, "secrets": secrets or {"openai": SECRET_VALUE}}
    response = client.request("POST", papi("/secrets"), json=body)
    assert response.status_code == 201, response.text
    return response


def create_agent(client: Client, body: dict[str, Any] | None = None) -> httpx.Response:
    """POST /agents (201 expected)."""
    response = client.request("POST", papi("/agents"), json=body or agent_body())
    assert response.status_code == 201, response.text
    return response


def create_number(client: Client, body: dict[str, Any]) -> httpx.Response:
    """POST /numbers (201 expected)."""
    response = client.request("POST", papi("/numbers"), json=body)
    assert response.status_code == 201, response.text
    return response


def etag(client: Client, suffix: str) -> str:
    """The current ETag of a resource."""
    response = client.request("GET", papi(suffix))
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def setup_agent(client: Client) -> str:
    """A secret set and an agent that references it; the agent's id."""
    create_set(client)
    agent_id: str = create_agent(client).json()["agent_id"]
    return agent_id
