"""Shared helpers of the sandbox tests: constants, a fake time source, and a small synchronous
client over either the in-process ASGI app or a served sandbox."""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from typing import Any

import httpx

APP_ID = "0123456789abcdef0123456789abcdef"
APP_ID_2 = "fedcba9876543210fedcba9876543210"
CERT = "c0ffee00c0ffee00c0ffee00c0ffee00"
CUSTOMER_ID = "customer-id"
CUSTOMER_SECRET = "customer-secret"
BASIC = "Basic " + base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()
PREFIX = "/api/conversational-ai-agent"

DEFAULT_PROPERTIES: dict[str, Any] = {
    "channel": "room-1",
    "agent_rtc_uid": "1001",
    "remote_rtc_uids": ["2001"],
    "llm": {
        "url": "https://api.openai.com/v1/chat/completions",
        "api_key": "sk-test",
        "system_messages": [{"role": "system", "content": "You are helpful."}],
        "params": {"model": "gpt-4o-mini", "max_tokens": 128},
    },
    "tts": {"vendor": "microsoft", "params": {"key": "k", "region": "eastus"}},
}


def api(suffix: str, app_id: str = APP_ID, prefix: str = PREFIX) -> str:
    """The path of an engine route, e.g. api("/join")."""
    return f"{prefix}/v2/projects/{app_id}{suffix}"


def join_body(name: str = "agent-1", **properties: Any) -> dict[str, Any]:
    """A valid join body; keyword arguments override (None removes) default properties."""
    props = copy.deepcopy(DEFAULT_PROPERTIES)
    for key, value in properties.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return {"name": name, "properties": props}


class FakeTime:
    """A manual time source, starting at the real time (so SDK-minted tokens stay valid)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class Client:
    """Synchronous engine and control calls; the Authorization header defaults to Basic."""

    def __init__(self, request: Any, close: Any) -> None:
        self._request = request
        self._close = close
        self.app: Any = None  # the in-process app, when there is one
        self.time: FakeTime | None = None  # its time source, when faked

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": BASIC, **kwargs.pop("headers", {})}
        response: httpx.Response = self._request(method, path, headers=headers, **kwargs)
        return response

    def close(self) -> None:
        self._close()

    # -- engine ------------------------------------------------------------------------------

    def join(
        self, name: str = "agent-1", app_id: str = APP_ID, **properties: Any
    ) -> httpx.Response:
        return self.request("POST", api("/join", app_id), json=join_body(name, **properties))

    def start(self, name: str = "agent-1", app_id: str = APP_ID, **properties: Any) -> str:
        response = self.join(name, app_id, **properties)
        assert response.status_code == 200, response.text
        agent_id: str = response.json()["agent_id"]
        return agent_id

    def get(self, agent_id: str, app_id: str = APP_ID) -> httpx.Response:
        return self.request("GET", api(f"/agents/{agent_id}", app_id))

    def status(self, agent_id: str, app_id: str = APP_ID) -> str:
        response = self.get(agent_id, app_id)
        assert response.status_code == 200, response.text
        status: str = response.json()["status"]
        return status

    def leave(self, agent_id: str, app_id: str = APP_ID) -> httpx.Response:
        return self.request("POST", api(f"/agents/{agent_id}/leave", app_id))

    def update(self, agent_id: str, body: Any, app_id: str = APP_ID) -> httpx.Response:
        return self.request("POST", api(f"/agents/{agent_id}/update", app_id), json=body)

    def list(self, app_id: str = APP_ID, **params: Any) -> httpx.Response:
        return self.request("GET", api("/agents", app_id), params=params)

    def post(
        self, agent_id: str, action: str, body: Any = None, app_id: str = APP_ID
    ) -> httpx.Response:
        return self.request("POST", api(f"/agents/{agent_id}/{action}", app_id), json=body)

    # -- controls ----------------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        self.control("POST", "/clock/advance", {"seconds": seconds})

    def agent(self, agent_id: str) -> dict[str, Any]:
        view: dict[str, Any] = self.control("GET", f"/agents/{agent_id}")
        return view


def asgi_client(app: Any) -> Client:
    """A Client over `httpx.ASGITransport`, driven by a private event loop."""
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")

    def request(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return loop.run_until_complete(client.request(method, path, **kwargs))

    def close() -> None:
        loop.run_until_complete(client.aclose())
        loop.close()

    return Client(request, close)


def http_client(base_url: str) -> Client:
    """A Client over real HTTP."""
    client = httpx.Client(base_url=base_url, timeout=10.0)
    return Client(client.request, client.close)
