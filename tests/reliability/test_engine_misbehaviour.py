"""Issue 6, item 7: an engine that answers 200 with a body that is not JSON, or JSON of the wrong
shape, or hangs past the timeout. Every such answer is a clear error, and nothing is recorded as
done that was not done: the state keeps the agent as it was (or a journal entry that the next
run resolves), and once the engine behaves again the next apply converges with no duplicate.

The engine is the sandbox app wrapped in a misbehaving ASGI layer, served by uvicorn on a
loopback port; the CLI runs in-process through its real entry point. Misbehaviour "after" means
the sandbox carried the request out and only the answer went wrong (the hardest case: the
engine did something the client cannot confirm); "before" means nothing happened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.engine import BasicAuth, EngineClient, RetryPolicy
from reconciler.errors import EngineProtocolError
from reconciler.sandbox import SandboxConfig, create_app
from tests.reliability.chaos_harness import (
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    AgentSpec,
    ChaosProject,
    EngineControls,
    base_env,
    check_converged,
)
from tests.reliability.inproc import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    ThreadServer,
    read_body,
    replay,
    run_cli,
)

NOT_JSON = b"<html><body>upstream says OK</body></html>"
WRONG_SHAPE = b'{"result": "ok", "data": {"items": 3}}'


@dataclass
class Misbehaving:
    """An ASGI layer over the sandbox: ``faults[route] = mode`` (optionally for one join name)."""

    app: ASGIApp
    faults: dict[str, str] = field(default_factory=dict)
    join_name: str | None = None
    hits: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        route = _route(scope["method"], path)
        mode = self.faults.get(route)
        if mode and route == "join" and self.join_name is not None:
            name = json.loads(body or b"{}").get("name")
            mode = mode if name == self.join_name else None
        if not mode:
            await self.app(scope, replay(body), send)
            return
        self.hits += 1
        if mode == "hang-before":
            await asyncio.sleep(3600)
        await _capture(self.app, scope, body)  # the engine acts; its answer is lost
        if mode == "hang-after":
            await asyncio.sleep(3600)
        payload = NOT_JSON if mode == "not-json" else WRONG_SHAPE
        kind = b"text/html" if mode == "not-json" else b"application/json"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": payload})


def _route(method: str, path: str) -> str:
    tail = path.rstrip("/").split("/")
    if tail[-1] == "join":
        return "join"
    if tail[-1] in ("leave", "update"):
        return tail[-1]
    if tail[-1] == "agents":
        return "list"
    return "get" if method == "GET" else "other"


async def _capture(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, bytes]:
    status = 0
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, replay(body), send)
    return status, b"".join(chunks)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ThreadServer, Misbehaving]]:
    config = SandboxConfig(
        customer_id=CUSTOMER_ID,
        customer_secret=CUSTOMER_SECRET,
        stop_delay_s=0.0,
        pcu_limit=100,
        require_token=False,
    )
    app = create_app(config)
    wrapper = Misbehaving(app)
    with ThreadServer(wrapper) as served:
        yield served, wrapper
    app.state.sandbox.close()


@pytest.fixture
def world(
    tmp_path: Path, server: tuple[ThreadServer, Misbehaving]
) -> Iterator[tuple[ChaosProject, Misbehaving]]:
    served, wrapper = server
    wrapper.faults.clear()
    wrapper.join_name = None
    wrapper.hits = 0
    engine = EngineControls(served.url)
    engine.reset()
    project = ChaosProject(
        tmp_path / "project",
        engine,
        max_concurrent_agents=3,
        parallelism=3,
        request_timeout_s=0.3,
        max_attempts=2,
        stop_wait_timeout_s=5,
    )
    project.set_agents([AgentSpec("a"), AgentSpec("b"), AgentSpec("c")])
    yield project, wrapper
    wrapper.faults.clear()
    engine.close()


def cli(project: ChaosProject, *args: str) -> Any:
    env: dict[str, str | None] = dict(base_env())
    return run_cli("-C", str(project.dir), *args, env=env)


def converge(project: ChaosProject, wrapper: Misbehaving) -> None:
    """With the engine behaving again: apply converges, nothing duplicated, plan is empty."""
    wrapper.faults.clear()
    again = cli(project, "apply", "--auto-approve")
    assert again.code == 0, again
    check = check_converged(project)
    assert check.ok, check.problems
    assert cli(project, "plan", "--detailed-exitcode").code == 0


JOIN_ERRORS = {
    "not-json": "engine answered 200 to join with a body that is not JSON",
    "wrong-shape": "engine answered 200 to join with JSON of the wrong shape",
    "hang-after": "engine unavailable: join of '{b}' failed after 2 attempts (timeout",
    "hang-before": "engine unavailable: join of '{b}' failed after 2 attempts (timeout",
}


@pytest.mark.parametrize("mode", sorted(JOIN_ERRORS))
def test_a_join_answered_badly_is_reported_never_recorded_as_done_and_resolved_next_run(
    world: tuple[ChaosProject, Misbehaving], mode: str
) -> None:
    project, wrapper = world
    wrapper.faults["join"] = mode
    wrapper.join_name = project.wire("b")

    failed = cli(project, "apply", "--auto-approve")

    assert failed.code == 1, failed
    assert "Internal error" not in failed.output
    assert "b: FAILED: join failed" in failed.stdout
    assert JOIN_ERRORS[mode].format(b=project.wire("b")) in failed.output, failed
    state = project.state()
    assert state is not None
    assert sorted(state["agents"]) == ["a", "c"]  # b is not recorded as started
    if mode != "hang-before":
        # The engine did start b-1: the journal keeps the join so the next run adopts it.
        assert [(p["op"], p["name"]) for p in state["pending"]] == [("join", "b")]
    # max_concurrent_agents is 3: the next run must adopt b-1, not count it as a stranger
    # and refuse (4 would run), nor start a second copy.
    converge(project, wrapper)
    running = [a for a in project.engine.agents() if a["status"] == "RUNNING"]
    assert sorted(a["name"] for a in running) == [project.wire(n) for n in "abc"]


@pytest.mark.parametrize("mode", ["not-json", "wrong-shape", "hang-after"])
def test_an_update_answered_badly_leaves_the_recorded_spec_unchanged(
    world: tuple[ChaosProject, Misbehaving], mode: str
) -> None:
    project, wrapper = world
    assert cli(project, "apply", "--auto-approve").code == 0
    before = project.state()
    assert before is not None
    project.set_agents([AgentSpec("a"), AgentSpec("b", prompt="A new prompt."), AgentSpec("c")])
    wrapper.faults["update"] = mode

    failed = cli(project, "apply", "--auto-approve")

    assert failed.code == 1, failed
    assert "Internal error" not in failed.output
    assert "b: FAILED: update failed" in failed.stdout
    after = project.state()
    assert after is not None
    assert after["agents"]["b"] == before["agents"]["b"]  # not recorded as updated
    assert after["pending"] == []
    converge(project, wrapper)
    view = project.engine.control("GET", f"/agents/{after['agents']['b']['agent_id']}")
    assert view["properties"]["llm"]["system_messages"][0]["content"] == "A new prompt."


@pytest.mark.parametrize(
    ("route", "mode"),
    [("get", "wrong-shape"), ("get", "not-json"), ("leave", "hang-after"), ("leave", "not-json")],
)
def test_a_stop_answered_badly_keeps_the_agent_recorded_until_a_run_confirms_it(
    world: tuple[ChaosProject, Misbehaving], route: str, mode: str
) -> None:
    project, wrapper = world
    assert cli(project, "apply", "--auto-approve").code == 0
    project.set_agents([AgentSpec("a"), AgentSpec("b")])
    wrapper.faults[route] = mode

    done = cli(project, "apply", "--auto-approve")

    assert "Internal error" not in done.output
    state = project.state()
    assert state is not None
    if done.code == 0:
        # leave's body is not read: the stop is confirmed by polling GET, which works.
        assert route == "leave" and mode == "not-json", done
        assert "c: stopped" in done.stdout
        assert sorted(state["agents"]) == ["a", "b"]
    else:
        assert done.code == 1, done
        assert "c: FAILED: leave failed" in done.stdout
        assert "c" in state["agents"]  # the stop was never confirmed
    assert state["pending"] == []
    converge(project, wrapper)


@pytest.mark.parametrize("mode", ["not-json", "wrong-shape", "hang-before"])
def test_a_refresh_answered_badly_fails_plan_and_apply_and_touches_nothing(
    world: tuple[ChaosProject, Misbehaving], mode: str
) -> None:
    project, wrapper = world
    assert cli(project, "apply", "--auto-approve").code == 0
    project.set_agents([AgentSpec("a"), AgentSpec("b"), AgentSpec("d")])
    before = project.state_file.read_bytes()
    wrapper.faults["list"] = mode

    commands = [("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")]
    for args in commands[:2] if mode == "hang-before" else commands:  # each hang costs ~1.5 s
        failed = cli(project, *args)
        assert failed.code == 1, failed
        assert "Internal error" not in failed.output
        expected = {
            "not-json": "engine answered 200 to list with a body that is not JSON",
            "wrong-shape": "engine answered 200 to list with JSON of the wrong shape (data.",
            "hang-before": "engine unavailable: list of agents failed after 2 attempts (timeout",
        }[mode]
        assert expected in failed.stderr, failed
    assert project.state_file.read_bytes() == before
    assert sorted(a["name"] for a in project.engine.agents()) == [project.wire(n) for n in "abc"]
    converge(project, wrapper)


@pytest.mark.parametrize(
    "body",
    [
        b'{"agent_id": "A", "create_ts": NaN, "status": "RUNNING"}',
        b'{"agent_id": "A", "create_ts": Infinity, "status": "RUNNING"}',
        b'{"agent_id": "A", "create_ts": 1e400, "status": "RUNNING"}',
        b'{"agent_id": "A", "create_ts": ' + b"9" * 5000 + b', "status": "RUNNING"}',
        b'{"agent_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"agent_id": "A", "status": {"deep": ' + b"[" * 900 + b"]" * 900 + b"}}",
        b"\xff\xfe not utf-8",
        b"",
        b"null",
        b'["agent_id", "A"]',
    ],
    ids=[
        "nan",
        "infinity",
        "1e400",
        "5000-digits",
        "nested-100000",
        "nested-900",
        "not-utf8",
        "empty",
        "null",
        "list",
    ],
)
def test_every_malformed_join_answer_is_a_protocol_error(body: bytes) -> None:
    """Regression: non-finite numbers (NaN, Infinity, 1e400) in a timestamp crashed the client
    with OverflowError/ValueError ("Internal error") instead of a clear protocol error."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async def go() -> None:
        async with EngineClient(
            "app",
            ["https://engine.example/api/conversational-ai-agent"],
            BasicAuth("a", "b"),
            transport=httpx.MockTransport(answer),
            retry=RetryPolicy.no_retries(),
        ) as client:
            with pytest.raises(EngineProtocolError, match="engine answered 200 to join"):
                await client.join("x-1", {"channel": "x"})

    asyncio.run(go())


@pytest.mark.parametrize("field_value", [b"NaN", b"-Infinity", b"1e999"])
def test_non_finite_timestamps_in_list_and_get_are_protocol_errors(field_value: bytes) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/agents"):
            item = b'{"agent_id": "A", "status": "RUNNING", "start_ts": ' + field_value + b"}"
            return httpx.Response(200, content=b'{"data": {"list": [' + item + b"]}}")
        return httpx.Response(
            200, content=b'{"agent_id": "A", "status": "STOPPED", "stop_ts": ' + field_value + b"}"
        )

    async def go() -> None:
        async with EngineClient(
            "app",
            ["https://engine.example/api/conversational-ai-agent"],
            BasicAuth("a", "b"),
            transport=httpx.MockTransport(answer),
            retry=RetryPolicy.no_retries(),
        ) as client:
            with pytest.raises(EngineProtocolError, match="wrong shape"):
                await client.list_agents()
            with pytest.raises(EngineProtocolError, match="wrong shape"):
                await client.get("A")

    asyncio.run(go())
