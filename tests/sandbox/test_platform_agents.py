"""Platform agents through HTTP: create (201, only agent_name required), retrieve without
credentials, JSON merge patch with If-Match, $secrets references checked on every write,
delete refused while a number routes to the agent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.platform_helpers import (
    agent_body,
    create_agent,
    create_number,
    create_set,
    etag,
    number_body,
    ok,
    papi,
    refused,
    setup_agent,
)
from tests.sandbox.sandbox_helpers import Client


def _patch(client: Client, agent_id: str, patch: dict[str, Any]) -> Any:
    headers = {"If-Match": etag(client, f"/agents/{agent_id}")}
    return client.request("PATCH", papi(f"/agents/{agent_id}"), json=patch, headers=headers)


def test_only_agent_name_is_required(engine: Client) -> None:
    response = create_agent(engine, {"agent_name": "bare"})
    body = response.json()
    assert body["agent_name"] == "bare"
    assert len(body["agent_id"]) == 36 and body["agent_id"].count("-") == 4
    assert response.headers["etag"]
    refused(engine.request("POST", papi("/agents"), json={}), 400, "InvalidRequest")


def test_names_need_not_be_unique(engine: Client) -> None:
    first = create_agent(engine, {"agent_name": "same"}).json()["agent_id"]
    second = create_agent(engine, {"agent_name": "same"}).json()["agent_id"]
    assert first != second


def test_retrieve_shows_the_configuration_but_only_the_credential_mode(engine: Client) -> None:
    agent_id = setup_agent(engine)
    response = engine.request("GET", papi(f"/agents/{agent_id}"))
    body = ok(response)
    assert body["llm"]["credential"] == {"mode": "byok"}
    assert body["tts"]["credential"] == {"mode": "managed"}
    assert body["instructions"] == "You are the support agent."
    assert "$secrets" not in response.text
    assert response.headers["etag"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agent_name": ""}, "agent_name"),
        ({"agent_name": "x" * 256}, "agent_name"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"variables": {"Bad": {}}}, "variables.Bad"),
        ({"greeting": {"text": 5}}, "greeting.text"),
        (
            {"llm": {"credential": {"mode": "byok", "fields": {"api_key": "sk-raw"}}}},
            "llm.credential.fields.api_key",
        ),
        (
            {
                "llm": {
                    "credential": {
                        "mode": "managed",
                        "fields": {"api_key": "$secrets.llm_keys.openai"},
                    }
                }
            },
            "llm.credential.fields",
        ),
        ({"llm": {"credential": {"mode": "other"}}}, "llm.credential.mode"),
        ({"llm": {"params": {"key": "$secrets.llm_keys.openai"}}}, "llm.params.key"),
        ({"agent_id": "mine"}, "agent_id"),
    ],
)
def test_invalid_configurations_are_400_naming_the_field(
    engine: Client, changes: dict[str, Any], field: str
) -> None:
    create_set(engine)
    response = engine.request("POST", papi("/agents"), json=agent_body(**changes))
    assert refused(response, 400, "InvalidRequest").startswith(f"{field}:")


def test_references_are_checked_on_create_and_on_update(engine: Client) -> None:
    response = engine.request("POST", papi("/agents"), json=agent_body())
    assert "secret set llm_keys does not exist" in refused(response, 400, "InvalidReference")
    agent_id = setup_agent(engine)
    patch = {"llm": {"credential": {"fields": {"api_key": "$secrets.llm_keys.missing"}}}}
    refused(_patch(engine, agent_id, patch), 400, "InvalidReference")


def test_update_is_a_json_merge_patch(engine: Client) -> None:
    agent_id = setup_agent(engine)
    patch = {
        "instructions": "New instructions.",  # a value replaces
        "llm": {
            "params": {"temperature": 0.7, "stop": ["A", "B"]}
        },  # objects merge, arrays replace
        "greeting": None,  # null removes
        "variables": {"customer_name": {"extract": None, "options": ["a"]}},
    }
    body = ok(_patch(engine, agent_id, patch))
    assert body["instructions"] == "New instructions."
    assert body["llm"]["params"] == {"temperature": 0.7, "stop": ["A", "B"]}
    assert body["llm"]["vendor"] == "openai" and body["llm"]["model"] == "gpt-4o-mini"
    assert "greeting" not in body
    assert body["variables"]["customer_name"] == {"description": "who calls", "options": ["a"]}
    assert body["messages"] == [{"role": "assistant", "content": "Hello"}]
    config = engine.control("GET", "/platform/agents")["agents"][0]["config"]
    assert config["llm"]["credential"]["fields"] == {"api_key": "$secrets.llm_keys.openai"}


def test_update_needs_a_current_if_match(engine: Client) -> None:
    agent_id = setup_agent(engine)
    path = papi(f"/agents/{agent_id}")
    refused(engine.request("PATCH", path, json={"instructions": "x"}), 428, "PreconditionRequired")
    old = etag(engine, f"/agents/{agent_id}")
    assert (
        engine.request(
            "PATCH", path, json={"instructions": "x"}, headers={"If-Match": old}
        ).status_code
        == 200
    )
    refused(
        engine.request("PATCH", path, json={"instructions": "y"}, headers={"If-Match": old}),
        412,
        "PreconditionFailed",
    )
    assert (
        engine.request(
            "PATCH", path, json={"instructions": "y"}, headers={"If-Match": "*"}
        ).status_code
        == 200
    )


def test_a_patch_that_changes_nothing_keeps_etag_and_update_ts(engine: Client) -> None:
    agent_id = setup_agent(engine)
    before = engine.request("GET", papi(f"/agents/{agent_id}"))
    engine.advance(5)
    after = _patch(engine, agent_id, {"instructions": "You are the support agent."})
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json()["update_ts"] == before.json()["update_ts"]
    changed = _patch(engine, agent_id, {"instructions": "Other."})
    assert changed.json()["update_ts"] >= before.json()["update_ts"] + 5


def test_a_patch_cannot_remove_the_name(engine: Client) -> None:
    agent_id = setup_agent(engine)
    refused(_patch(engine, agent_id, {"agent_name": None}), 400, "InvalidRequest")


def test_a_reference_dropped_by_a_patch_frees_the_secret_set(engine: Client) -> None:
    agent_id = setup_agent(engine)
    ok(_patch(engine, agent_id, {"llm": {"credential": {"mode": "managed", "fields": None}}}))
    headers = {"If-Match": etag(engine, "/secrets/llm_keys")}
    assert engine.request("DELETE", papi("/secrets/llm_keys"), headers=headers).status_code == 200


def test_delete_is_refused_while_a_number_routes_to_the_agent(engine: Client) -> None:
    agent_id = setup_agent(engine)
    number = create_number(engine, number_body(agent_id)).json()
    detail = refused(engine.request("DELETE", papi(f"/agents/{agent_id}")), 409, "AgentInUse")
    assert number["number_id"] in detail
    headers = {"If-Match": etag(engine, f"/numbers/{number['number_id']}")}
    patch = {"inbound": None}
    assert (
        engine.request(
            "PATCH", papi(f"/numbers/{number['number_id']}"), json=patch, headers=headers
        ).status_code
        == 200
    )
    assert ok(engine.request("DELETE", papi(f"/agents/{agent_id}"))) == {"deleted": True}
    refused(engine.request("GET", papi(f"/agents/{agent_id}")), 404, "NotFound")


def test_delete_checks_an_if_match_when_one_is_sent(engine: Client) -> None:
    agent_id = setup_agent(engine)
    stale = {"If-Match": '"old"'}
    refused(
        engine.request("DELETE", papi(f"/agents/{agent_id}"), headers=stale),
        412,
        "PreconditionFailed",
    )


def test_unknown_agents_are_404(engine: Client) -> None:
    missing = "3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10"
    refused(engine.request("GET", papi(f"/agents/{missing}")), 404, "NotFound")
    refused(
        engine.request("PATCH", papi(f"/agents/{missing}"), json={}, headers={"If-Match": "*"}),
        404,
        "NotFound",
    )
    refused(engine.request("DELETE", papi(f"/agents/{missing}")), 404, "NotFound")


def test_fields_the_sandbox_does_not_know_are_kept(engine: Client) -> None:
    agent_id = create_agent(engine, {"agent_name": "x", "turn_detection": {"mode": "auto"}}).json()[
        "agent_id"
    ]
    assert ok(engine.request("GET", papi(f"/agents/{agent_id}")))["turn_detection"] == {
        "mode": "auto"
    }
