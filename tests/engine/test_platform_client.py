"""PlatformClient against the in-process sandbox (httpx.ASGITransport): every operation, paging,
If-Match and 412, the error table's Platform reasons, creates never resent, secrets scrubbed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.engine import (
    BasicAuth,
    ClientOptions,
    PlatformClient,
    TokenAuth,
    build_platform_client,
)
from reconciler.engine.platform.endpoints import resolve_platform
from reconciler.engine.platform.rules import SANDBOX_BASE_URL
from reconciler.errors import (
    AlreadyExistsError,
    EngineError,
    OutcomeUnknownError,
    PreconditionFailedError,
    ResourceInUseError,
    SettingsError,
)
from reconciler.manifests import load_settings
from reconciler.sandbox import SandboxConfig, create_app
from tests.engine.engine_helpers import APP_ID, CERT, CountingTransport, Recorder

SECRET = "sk-platform-secret-0123456789"
SIP_PASSWORD = "sip-password-0123456789"
AGENT = {
    "agent_name": "support",
    "instructions": "Help.",
    "llm": {
        "vendor": "openai",
        "params": {"temperature": 0.1},
        "credential": {"mode": "byok", "fields": {"api_key": "$secrets.llm_keys.openai"}},
    },
}


def number_spec(agent_id: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "number": "+14155550100",
        "sip_trunk": {
            "name": "acme",
            "hostname": "acme.pstn.example.com",
            "transport": "tls",
            "auth": {"username": "acme", "password": SIP_PASSWORD},
        },
    }
    if agent_id is not None:
        spec["inbound"] = {"agent": agent_id, "call_policy": {"max_call_duration_seconds": 60}}
    return spec


class Env:
    """A sandbox app, a Platform client over a counting transport and a control client."""

    def __init__(self, client: PlatformClient, control: httpx.AsyncClient, wire: CountingTransport):
        self.client = client
        self.control = control
        self.wire = wire

    async def ctl(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.control.request(method, f"/_sandbox/{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json()


def run(
    scenario: Callable[[Env], Awaitable[Any]],
    recorder: Recorder,
    *,
    config: SandboxConfig | None = None,
    auth: Any = None,
) -> Any:
    """Run ``scenario`` against a fresh sandbox; everything is closed afterwards."""
    app = create_app(config or SandboxConfig())

    async def main() -> Any:
        wire = CountingTransport(httpx.ASGITransport(app=app))
        client = PlatformClient(
            APP_ID,
            [SANDBOX_BASE_URL],
            auth or BasicAuth("sandbox", "sandbox"),
            transport=wire,
            retry=recorder.policy(4),
        )
        control = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sb")
        async with client, control:
            return await scenario(Env(client, control, wire))

    try:
        return asyncio.run(main())
    finally:
        app.state.sandbox.close()


def test_secret_set_operations_round_trip(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        c = env.client
        made = await c.create_secret_set("llm_keys", {"openai": SECRET})
        assert made.body["keys"] == ["openai"] and made.etag
        got = await c.get_secret_set("llm_keys")
        assert got is not None and got.etag == made.etag
        assert await c.get_secret_set("missing") is None
        key = await c.set_secret_key("llm_keys", "deepgram", SECRET + "-dg")
        assert key.created and key.etag and key.secret_set["keys"] == ["deepgram", "openai"]
        again = await c.set_secret_key("llm_keys", "deepgram", SECRET + "-2", if_match=key.etag)
        assert not again.created
        with pytest.raises(PreconditionFailedError) as info:
            await c.set_secret_key("llm_keys", "openai", "x" * 20, only_if_absent=True)
        assert not info.value.resent
        assert await c.delete_secret_key("llm_keys", "deepgram") is True
        assert await c.delete_secret_key("llm_keys", "deepgram") is False
        updated = await c.update_secret_set("llm_keys", {"extra": SECRET + "-x"})
        replaced = await c.replace_secret_set("llm_keys", {"openai": SECRET}, updated.etag or "")
        assert replaced.body["keys"] == ["openai"]
        assert [s["name"] for s in await c.list_secret_sets()] == ["llm_keys"]
        with pytest.raises(AlreadyExistsError):
            await c.create_secret_set("llm_keys", {"a": "b"})
        assert await c.delete_secret_set("llm_keys", replaced.etag or "") is True
        assert await c.get_secret_set("llm_keys") is None

    run(scenario, recorder)


def test_agent_and_number_operations_round_trip_with_references(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        c = env.client
        await c.create_secret_set("llm_keys", {"openai": SECRET})
        agent = await c.create_agent(AGENT)
        agent_id = agent.body["agent_id"]
        assert agent.body["llm"]["credential"] == {"mode": "byok"}
        patched = await c.update_agent(
            agent_id, {"instructions": "Help more.", "llm": {"params": None}}, agent.etag or ""
        )
        assert patched.body["instructions"] == "Help more." and "params" not in patched.body["llm"]
        with pytest.raises(PreconditionFailedError) as stale:
            await c.update_agent(agent_id, {"instructions": "x"}, agent.etag or "")
        assert (stale.value.status, stale.value.reason, stale.value.resent) == (
            412,
            "PreconditionFailed",
            False,
        )
        assert str(stale.value).startswith(f"platform refused update of agent {agent_id}: HTTP 412")
        number = await c.create_number(number_spec(agent_id))
        number_id = number.body["number_id"]
        with pytest.raises(ResourceInUseError) as in_use:
            await c.delete_agent(agent_id)
        assert in_use.value.reason == "AgentInUse"
        set_etag = (await c.get_secret_set("llm_keys")).etag  # type: ignore[union-attr]
        with pytest.raises(ResourceInUseError):
            await c.delete_secret_set("llm_keys", set_etag or "")
        with pytest.raises(AlreadyExistsError):
            await c.create_number(number_spec())
        moved = await c.update_number(number_id, {"inbound": None}, number.etag or "")
        assert moved.body["inbound"] is None
        assert [n["number_id"] for n in await c.list_numbers()] == [number_id]
        assert await c.delete_number(number_id) is True
        assert await c.get_number(number_id) is None
        assert await c.delete_agent(agent_id) is True
        assert await c.delete_agent(agent_id) is False
        with pytest.raises(EngineError) as bad:
            await c.create_agent(
                {
                    "agent_name": "x",
                    "llm": {
                        "credential": {"mode": "byok", "fields": {"api_key": "$secrets.none.k"}}
                    },
                }
            )
        assert (bad.value.status, bad.value.reason) == (400, "InvalidReference")

    run(scenario, recorder)


def test_lists_follow_every_page_oldest_first(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        made = [
            (await env.client.create_agent({"agent_name": f"a{i}"})).body["agent_id"]
            for i in range(205)
        ]
        listed = await env.client.list_agents()
        assert [a["agent_id"] for a in listed] == made
        pages = [q for m, p, q in env.wire.requests if m == "GET" and p.endswith("/agents")]
        assert len(pages) == 2 and pages[0] == {"limit": "200", "order": "create_ts.asc"}
        assert "cursor" in pages[1]

    run(scenario, recorder)


def test_a_create_whose_answer_was_lost_is_not_sent_again(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.ctl(
            "POST", "faults/rules", {"route": "create-agent", "action": "drop_after", "times": 1}
        )
        with pytest.raises(OutcomeUnknownError) as info:
            await env.client.create_agent({"agent_name": "once"})
        assert "may have been carried out" in str(info.value)
        assert env.wire.count("POST", "/agents") == 1
        assert [a["agent_name"] for a in await env.client.list_agents()] == ["once"]

    run(scenario, recorder)


def test_a_create_answered_5xx_is_not_resent_but_429_is(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.ctl("POST", "faults/rules", {"route": "create-number", "status": 503, "times": 1})
        with pytest.raises(OutcomeUnknownError):
            await env.client.create_number(number_spec())
        assert env.wire.count("POST", "/numbers") == 1
        await env.ctl("POST", "faults/rules", {"route": "create-number", "status": 429, "times": 1})
        made = await env.client.create_number(number_spec())
        assert made.body["number"] == "+14155550100"
        assert env.wire.count("POST", "/numbers") == 3

    run(scenario, recorder)


def test_reads_and_updates_are_retried_and_a_resent_update_says_so(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        agent = await env.client.create_agent({"agent_name": "a"})
        agent_id = agent.body["agent_id"]
        await env.ctl(
            "POST", "faults/rules", {"route": "retrieve-agent", "status": 503, "times": 2}
        )
        assert (await env.client.get_agent(agent_id)) is not None
        await env.ctl(
            "POST", "faults/rules", {"route": "update-agent", "action": "drop_after", "times": 1}
        )
        with pytest.raises(PreconditionFailedError) as info:
            await env.client.update_agent(agent_id, {"instructions": "x"}, agent.etag or "")
        assert info.value.resent  # the first attempt was carried out: the 412 may be our own change
        got = await env.client.get_agent(agent_id)
        assert got is not None and got.body["instructions"] == "x"

    run(scenario, recorder)


def test_secret_values_never_appear_in_errors(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        await env.client.create_secret_set("s", {"a": "first-value-123456"})
        rule = {
            "route": "set-secret-key",
            "status": 400,
            "reason": "InvalidRequest",
            "detail": f"bad {SECRET}",
        }
        await env.ctl("POST", "faults/rules", rule)
        with pytest.raises(EngineError) as info:
            await env.client.set_secret_key("s", "k", SECRET)
        assert SECRET not in str(info.value) and SECRET not in info.value.detail
        rule = {
            "route": "create-number",
            "status": 400,
            "reason": "InvalidRequest",
            "detail": SIP_PASSWORD,
        }
        await env.ctl("POST", "faults/rules", rule)
        with pytest.raises(EngineError) as sip:
            await env.client.create_number(number_spec())
        assert SIP_PASSWORD not in str(sip.value)

    run(scenario, recorder)


def test_token_auth_reaches_the_platform(recorder: Recorder) -> None:
    async def scenario(env: Env) -> None:
        assert await env.client.list_agents() == []

    run(
        scenario, recorder, config=SandboxConfig(app_certificate=CERT), auth=TokenAuth(APP_ID, CERT)
    )


def test_build_from_settings_for_the_sandbox_preview_and_a_served_sandbox(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, None, {})
    with pytest.raises(SettingsError):
        build_platform_client(settings)
    app = create_app(SandboxConfig())
    try:
        client = build_platform_client(settings, ClientOptions(httpx.ASGITransport(app=app)))
        assert client.endpoint == SANDBOX_BASE_URL
        asyncio.run(client.aclose())
    finally:
        app.state.sandbox.close()
    environ = {
        "RECONCILER_PLATFORM": "http://127.0.0.1:8787",
        "AGORA_CUSTOMER_ID": "sandbox",
        "AGORA_CUSTOMER_SECRET": "sandbox",
    }
    served = load_settings(tmp_path, None, environ)
    client = build_platform_client(served)
    assert client.endpoint == "http://127.0.0.1:8787/conversational-ai"
    asyncio.run(client.aclose())
    assert resolve_platform("preview") == "https://preview.ai.agora.io/conversational-ai"
    assert (
        resolve_platform("https://p.example.com/conversational-ai/")
        == "https://p.example.com/conversational-ai"
    )
    for bad in ("http://p.example.com", "https://u:p@p.example.com", "ftp://x", "sandbox"):
        with pytest.raises(SettingsError):
            resolve_platform(bad)


def test_a_real_platform_without_credentials_is_a_settings_error(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("platform: preview\n", encoding="utf-8")
    settings = load_settings(tmp_path, None, {})
    with pytest.raises(SettingsError) as info:
        build_platform_client(settings)
    assert "AGORA_CUSTOMER_ID" in str(info.value)
