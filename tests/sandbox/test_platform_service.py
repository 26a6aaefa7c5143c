"""The Platform API as a service of the sandbox: Basic and token auth as on the v2 routes, a
request id on every answer, the same fault injection, unknown routes in the Platform's error
shape, the control routes, reset, persistence across restarts, and a served process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agora_agent.agentkit.token import generate_convo_ai_token

from reconciler.sandbox import SandboxConfig, create_app
from tests.sandbox.conftest import Served
from tests.sandbox.platform_helpers import (
    SECRET_VALUE,
    create_number,
    create_set,
    etag,
    number_body,
    ok,
    papi,
    refused,
    setup_agent,
)
from tests.sandbox.sandbox_helpers import (
    APP_ID,
    APP_ID_2,
    CERT,
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    Client,
    FakeTime,
    asgi_client,
    http_client,
)


def test_requests_without_valid_credentials_are_401_invalid_permission(engine: Client) -> None:
    for header in ("", "Basic d3Jvbmc6d3Jvbmc=", "Bearer x", "agora token=abc"):
        response = engine.request("GET", papi("/agents"), headers={"Authorization": header})
        refused(response, 401, "InvalidPermission")


def test_a_convo_ai_token_for_the_project_authenticates(cert_engine: Client) -> None:
    token = generate_convo_ai_token(APP_ID, CERT, "any", 0)
    headers = {"Authorization": f'agora token="{token}"'}
    assert cert_engine.request("GET", papi("/agents"), headers=headers).status_code == 200
    other = cert_engine.request("GET", papi("/agents", APP_ID_2), headers=headers)
    refused(other, 401, "InvalidPermission")


def test_every_answer_has_its_own_request_id(engine: Client) -> None:
    answers = [
        create_set(engine),
        engine.request("GET", papi("/secrets/missing")),
        engine.request("GET", papi("/agents"), headers={"Authorization": "x"}),
        engine.request("GET", papi("/no/such/route")),
    ]
    ids = [a.headers["agora-request-id"] for a in answers]
    assert all(ids) and len(set(ids)) == len(ids)


def test_unknown_paths_and_methods_answer_in_the_platforms_error_shape(engine: Client) -> None:
    refused(engine.request("GET", papi("/widgets")), 404, "NotFound")
    refused(engine.request("PUT", papi("/agents")), 405, "MethodNotAllowed")
    refused(engine.request("POST", papi("/campaigns/abc:explode")), 405, "MethodNotAllowed")


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PURGE"])
def test_any_other_method_on_a_platform_path_is_405_in_the_platforms_shape(
    engine: Client, method: str
) -> None:
    response = engine.request(method, papi("/agents"))
    refused(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "GET, POST"
    refused(engine.request(method, papi("/widgets")), 404, "NotFound")


def test_a_fault_rule_on_a_platform_route_answers_its_error_once(engine: Client) -> None:
    rule = {"route": "create-agent", "status": 503, "times": 1}
    engine.control("POST", "/faults/rules", rule)
    first = engine.request("POST", papi("/agents"), json={"agent_name": "a"})
    refused(first, 503, "ServiceUnavailable")
    assert engine.request("POST", papi("/agents"), json={"agent_name": "a"}).status_code == 201
    log = engine.control("GET", "/requests?route=create-agent")["requests"]
    assert [(e["status"], e["fault"]) for e in log] == [(503, "rule:1"), (201, None)]


def test_a_fault_rule_matches_a_secret_set_by_name_and_a_resource_by_id(engine: Client) -> None:
    agent_id = setup_agent(engine)
    engine.control("POST", "/faults/rules", {"route": "*", "name": "llm_keys", "status": 500})
    engine.control(
        "POST",
        "/faults/rules",
        {"route": "retrieve-agent", "agent_id": agent_id, "status": 429, "retry_after_s": 2},
    )
    assert engine.request("GET", papi("/secrets/llm_keys")).status_code == 500
    limited = engine.request("GET", papi(f"/agents/{agent_id}"))
    refused(limited, 429, "ResourceQuotaLimitExceeded")
    assert limited.headers["retry-after"] == "2"
    assert engine.request("GET", papi("/agents")).status_code == 200


def test_a_dropped_answer_still_carries_out_the_create(engine: Client) -> None:
    engine.control(
        "POST", "/faults/rules", {"route": "create-agent", "action": "drop_after", "times": 1}
    )
    try:
        engine.request("POST", papi("/agents"), json={"agent_name": "lost answer"})
    except ConnectionError:
        pass
    else:  # pragma: no cover - the drop must be seen
        raise AssertionError("the connection was not dropped")
    listed = ok(engine.request("GET", papi("/agents")))["data"]["list"]
    assert [a["agent_name"] for a in listed] == ["lost answer"]


def test_random_faults_can_be_scoped_to_platform_routes(engine: Client) -> None:
    engine.control("POST", "/faults", {"error_rate": 1.0, "routes": ["list-agents"], "seed": 1})
    refused(engine.request("GET", papi("/agents")), 503, "ServiceUnavailable")
    assert engine.request("GET", papi("/numbers")).status_code == 200


def test_control_routes_show_every_kind_without_secret_values(engine: Client) -> None:
    agent_id = setup_agent(engine)
    create_number(engine, number_body(agent_id))
    held = engine.control("GET", f"/platform?app_id={APP_ID}")
    assert set(held) == {"secret_sets", "agents", "numbers", "sessions", "campaigns"}
    assert [s["id"] for s in held["secret_sets"]] == ["llm_keys"]
    assert held["agents"][0]["links"] == ["secret_key:llm_keys.openai", "secret_set:llm_keys"]
    assert held["numbers"][0]["links"] == [f"agent:{agent_id}"]
    assert SECRET_VALUE not in str(held)
    assert engine.control("GET", f"/platform?app_id={APP_ID_2}")["agents"] == []
    assert engine.request("GET", "/_sandbox/platform/widgets").status_code == 404


def test_reset_forgets_platform_resources_too(engine: Client) -> None:
    setup_agent(engine)
    engine.control("POST", "/reset")
    assert ok(engine.request("GET", papi("/agents")))["data"]["count"] == 0
    assert engine.control("GET", "/platform/secret_sets") == {"secret_sets": []}


def _open(db: Path, fake_time: FakeTime, seed: int | None = None) -> tuple[Client, Any]:
    config = SandboxConfig(
        customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET, db_path=str(db), seed=seed
    )
    app = create_app(config, time_source=fake_time)
    return asgi_client(app), app


def test_resources_etags_and_secret_digests_survive_a_restart(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    db = tmp_path / "engine.db"
    client, app = _open(db, fake_time)
    agent_id = setup_agent(client)
    tag = etag(client, f"/agents/{agent_id}")
    client.close()
    app.state.sandbox.close()

    client, app = _open(db, fake_time)
    try:
        assert etag(client, f"/agents/{agent_id}") == tag
        check = {"app_id": APP_ID, "set": "llm_keys", "key": "openai", "value": SECRET_VALUE}
        assert client.control("POST", "/platform/secrets/check", check) == {"matches": True}
        headers = {"If-Match": etag(client, "/secrets/llm_keys")}
        refused(
            client.request("DELETE", papi("/secrets/llm_keys"), headers=headers),
            409,
            "SecretSetInUse",
        )
    finally:
        client.close()
        app.state.sandbox.close()


def test_seeded_sandboxes_give_the_same_ids(tmp_path: Path, fake_time: FakeTime) -> None:
    made = []
    for run in range(2):
        client, app = _open(tmp_path / f"{run}.db", fake_time, seed=5)
        made.append(
            client.request("POST", papi("/agents"), json={"agent_name": "a"}).json()["agent_id"]
        )
        client.close()
        app.state.sandbox.close()
    assert made[0] == made[1]


def test_a_served_sandbox_answers_the_platform_beside_the_engine(
    server_factory: Callable[..., Served], tmp_path: Path
) -> None:
    served = server_factory(str(tmp_path / "engine.db"))
    client = http_client(served.url)
    try:
        agent_id = setup_agent(client)
        assert ok(client.request("GET", papi(f"/agents/{agent_id}")))["agent_name"] == "support"
        assert (
            client.request(
                "GET", f"/api/conversational-ai-agent/v2/projects/{APP_ID}/agents"
            ).status_code
            == 200
        )
    finally:
        client.close()


def test_every_reason_and_status_the_sandbox_answers_is_in_the_docs() -> None:
    from reconciler.sandbox.platform.rules import REASON_STATUS

    text = (Path(__file__).resolve().parents[2] / "docs" / "platform-api.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
        for line in text.splitlines()
        if line.startswith("| `") and line.count("|") >= 5
    }
    for reason, status in REASON_STATUS.items():
        assert rows.get(reason) == str(status), reason
