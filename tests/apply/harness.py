"""An in-process sandbox, an engine client and a state store for apply tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from reconciler.apply import ApplyContext, ApplyEvent, ApplyResult, StateWriter, apply_plan
from reconciler.apply.context import ActiveListing
from reconciler.apply.records import wire_name
from reconciler.engine import BasicAuth, EngineClient, RetryPolicy, mint_agent_token, refresh
from reconciler.models import DesiredAgent, DesiredSet, LiveStatus, Plan, StateDoc
from reconciler.plan import PlanOptions, build_plan
from reconciler.sandbox import SandboxConfig, create_app
from reconciler.state import LocalStateStore

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"
BASE = "http://sandbox/api/conversational-ai-agent"


def agent(
    name: str,
    *,
    prompt: str = "You are helpful.",
    tts_vendor: str = "microsoft",
    api_key: str = "sk-secret-value-123",
    channel: str | None = None,
    token_mode: str = "auto",
) -> DesiredAgent:
    spec: dict[str, Any] = {
        "properties": {
            "channel": channel or name,
            "agent_rtc_uid": "1001",
            "remote_rtc_uids": ["*"],
            "idle_timeout": 0,
            "llm": {
                "url": "https://api.openai.com/v1/chat/completions",
                "api_key": api_key,
                "system_messages": [{"role": "system", "content": prompt}],
                "params": {"model": "gpt-4o-mini"},
            },
            "tts": {"vendor": tts_vendor, "params": {"key": "tts-secret-key-456"}},
        }
    }
    return DesiredAgent(
        name=name,
        path=f"agents.d/{name}.yaml",
        spec=spec,
        token_mode=token_mode,  # type: ignore[arg-type]
        sensitive=frozenset({"properties.llm.api_key", "properties.tts.params.key"}),
    )


def desired(*agents: DesiredAgent) -> DesiredSet:
    return DesiredSet(agents={a.name: a for a in agents})


MANIFEST_TEMPLATE = """\
name: {name}
properties:
  channel: {name}
  agent_rtc_uid: "1001"
  remote_rtc_uids: ["*"]
  llm:
    url: https://api.openai.com/v1/chat/completions
    system_messages: [{{role: system, content: You are helpful.}}]
  tts:
    vendor: microsoft
"""
"""The smallest manifest file of an agent (``.format(name=...)``): one channel, one LLM, TTS."""


@dataclass
class World:
    tmp: Path
    app: Any
    store: LocalStateStore
    events: list[ApplyEvent] = field(default_factory=list)
    writes: int = 0

    def client(self, max_attempts: int = 4) -> EngineClient:
        async def no_sleep(_: float) -> None:
            return None

        return EngineClient(
            APP_ID,
            [BASE],
            BasicAuth("sandbox", "sandbox"),
            transport=httpx.ASGITransport(app=self.app),
            retry=RetryPolicy(max_attempts, sleep=no_sleep),
        )

    def control(self, method: str, path: str, json: Any = None) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox"
            ) as c:
                r = await c.request(method, path, json=json)
                r.raise_for_status()
                return r.json() if r.content else None

        return asyncio.run(go())

    def wire(self, name: str, generation: int = 1) -> str:
        """The wire name this world's state gives ``name`` at ``generation`` (the state is
        written first if there is none, so that its lineage is fixed)."""
        if not self.store.exists:
            self.store.write(self.store.load())
        return wire_name(name, generation, self.store.load().lineage)

    def start_directly(self, wire_name: str, *, channel: str, uid: str = "1001") -> str:
        """Join an agent behind the tool's back (a stray, or one a killed run started)."""

        token, _ = mint_agent_token(APP_ID, CERT, channel, uid, 86400, time.time(), False)

        async def go() -> str:
            async with self.client() as c:
                props = {
                    "channel": channel,
                    "token": token,
                    "agent_rtc_uid": uid,
                    "remote_rtc_uids": ["*"],
                    "idle_timeout": 0,
                }
                return (await c.join(wire_name, props)).agent_id

        return asyncio.run(go())

    def agents(self, status: str | None = None) -> list[dict[str, Any]]:
        out = self.control("GET", "/_sandbox/agents")["agents"]
        return [a for a in out if status is None or a["status"] == status]

    def live(self, state: StateDoc) -> LiveStatus:
        async def go() -> LiveStatus:
            async with self.client() as c:
                return await refresh(c, state.agents, time.time())

        return asyncio.run(go())

    def plan(self, want: DesiredSet, **options: Any) -> tuple[Plan, StateDoc]:
        state = self.store.load()
        plan = build_plan(
            want,
            state,
            self.live(state),
            now=time.time(),
            options=PlanOptions(app_id=APP_ID, **options),
        )
        return plan, state

    def apply(
        self,
        want: DesiredSet,
        *,
        max_attempts: int = 4,
        store: StateWriter | None = None,
        should_stop: Callable[[], bool] | None = None,
        parallelism: int = 4,
        interrupt_grace_s: float = 60.0,
        active_listing: ActiveListing | None = None,
        ready_timeout_s: float | None = None,
        **options: Any,
    ) -> tuple[Plan, ApplyResult, StateDoc]:
        """Plan and apply ``want``; ``store`` replaces the world's store as the state writer."""
        plan, state = self.plan(want, **options)
        world = self
        writer: StateWriter = store if store is not None else world.store

        class CountingStore:
            def write(self, doc: StateDoc) -> StateDoc:
                world.writes += 1
                return writer.write(doc)

        def mint(a: DesiredAgent, now: float) -> tuple[str, float]:
            return mint_agent_token(APP_ID, CERT, a.channel, a.agent_rtc_uid, 86400, now, False)

        async def go() -> tuple[ApplyResult, StateDoc]:
            async with self.client(max_attempts) as c:
                ctx = ApplyContext(
                    client=c,
                    store=CountingStore(),
                    mint_token=mint,
                    parallelism=parallelism,
                    poll_interval_s=0.01,
                    stop_wait_timeout_s=5,
                    on_event=self.events.append,
                    should_stop=should_stop or (lambda: False),
                    interrupt_grace_s=interrupt_grace_s,
                    active_listing=active_listing,
                    ready_timeout_s=ready_timeout_s,
                )
                return await apply_plan(plan, want, state, ctx)

        result, state = asyncio.run(go())
        return plan, result, state


def make_world(tmp: Path, **config: Any) -> World:
    values: dict[str, Any] = {
        "customer_id": "sandbox",
        "customer_secret": "sandbox",
        "app_certificate": CERT,
        "stop_delay_s": 0.0,
        "seed": 3,
    }
    values.update(config)
    app = create_app(SandboxConfig(**values))
    return World(tmp=tmp, app=app, store=LocalStateStore(tmp / "state" / "agents.json"))


Factory = Callable[..., World]
