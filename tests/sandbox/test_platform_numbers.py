"""Platform phone numbers through HTTP: create, SIP credentials never returned, inbound routing
to an existing agent, PATCH replacing sip_trunk and inbound whole with If-Match, the number
itself immutable, delete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sandbox.platform_helpers import (
    NUMBER,
    SIP_PASSWORD,
    create_number,
    etag,
    number_body,
    ok,
    papi,
    refused,
    setup_agent,
)
from tests.sandbox.sandbox_helpers import Client


def _patch(client: Client, number_id: str, patch: dict[str, Any]) -> Any:
    headers = {"If-Match": etag(client, f"/numbers/{number_id}")}
    return client.request("PATCH", papi(f"/numbers/{number_id}"), json=patch, headers=headers)


def _sip_auth(client: Client) -> Any:
    return client.control("GET", "/platform/numbers")["numbers"][0]["sip_auth"]


def test_create_answers_201_without_sip_credentials_and_with_the_default_port(
    engine: Client,
) -> None:
    agent_id = setup_agent(engine)
    response = create_number(engine, number_body(agent_id))
    body = response.json()
    assert body["number"] == NUMBER and body["description"] == "Support line"
    assert "auth" not in body["sip_trunk"] and body["sip_trunk"]["port"] == 5061
    assert body["inbound"]["agent"] == agent_id
    assert SIP_PASSWORD not in response.text
    assert SIP_PASSWORD not in engine.request("GET", papi("/numbers")).text
    assert SIP_PASSWORD not in str(engine.control("GET", "/platform"))
    assert _sip_auth(engine) == {"username": "acme"}
    assert response.headers["etag"]


def test_without_inbound_calls_are_rejected(engine: Client) -> None:
    body = create_number(engine, number_body()).json()
    assert body["inbound"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"number": "4155550100"}, "number"),
        ({"number": None}, "number"),
        ({"sip_trunk": None}, "sip_trunk"),
        ({"sip_trunk": {"transport": "tls"}}, "sip_trunk.hostname"),
        ({"sip_trunk": {"hostname": "sip://acme.example.com"}}, "sip_trunk.hostname"),
        ({"sip_trunk": {"hostname": "h.example.com", "transport": "ws"}}, "sip_trunk.transport"),
        ({"sip_trunk": {"hostname": "h.example.com", "port": 70000}}, "sip_trunk.port"),
        (
            {"sip_trunk": {"hostname": "h.example.com", "auth": {"username": "u"}}},
            "sip_trunk.auth.password",
        ),
        (
            {"sip_trunk": {"hostname": "h", "auth": {"username": "u", "password": "$secrets.s.k"}}},
            "sip_trunk.auth.password",
        ),
        (
            {"sip_trunk": {"hostname": "h.example.com", "allowed_ips": ["::1"]}},
            "sip_trunk.allowed_ips[0]",
        ),
        ({"inbound": {"agent": "x"}}, "inbound.agent"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_numbers_are_refused_naming_the_field(
    engine: Client, change: dict[str, Any], field: str
) -> None:
    body = number_body()
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    response = engine.request("POST", papi("/numbers"), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}:")


def test_inbound_needs_an_existing_agent_and_a_call_policy(engine: Client) -> None:
    body = number_body("3f6c2a9e-8d1b-4e7a-9c55-0b2f7d1e4a10")
    refused(engine.request("POST", papi("/numbers"), json=body), 400, "InvalidReference")
    agent_id = setup_agent(engine)
    body = number_body(agent_id)
    del body["inbound"]["call_policy"]
    assert refused(
        engine.request("POST", papi("/numbers"), json=body), 400, "InvalidRequest"
    ).startswith("inbound.call_policy:")


def test_a_number_is_unique_in_its_project_whatever_its_format(engine: Client) -> None:
    create_number(engine, number_body())
    again = number_body(number="+1 415-555-0100")
    refused(engine.request("POST", papi("/numbers"), json=again), 409, "NumberAlreadyExists")


def test_update_needs_a_current_if_match(engine: Client) -> None:
    number_id = create_number(engine, number_body()).json()["number_id"]
    path = papi(f"/numbers/{number_id}")
    refused(engine.request("PATCH", path, json={"description": "x"}), 428, "PreconditionRequired")
    refused(
        engine.request("PATCH", path, json={"description": "x"}, headers={"If-Match": '"no"'}),
        412,
        "PreconditionFailed",
    )


def test_update_replaces_sip_trunk_whole_so_omitted_auth_is_removed(engine: Client) -> None:
    number_id = create_number(engine, number_body()).json()["number_id"]
    trunk = {"name": "acme", "hostname": "new.pstn.example.com", "transport": "udp"}
    body = ok(_patch(engine, number_id, {"sip_trunk": trunk}))
    assert body["sip_trunk"] == {**trunk, "port": 5060}
    assert _sip_auth(engine) is None
    assert body["description"] == "Support line"  # fields omitted keep their values


def test_update_routes_and_unroutes_inbound_calls(engine: Client) -> None:
    agent_id = setup_agent(engine)
    number_id = create_number(engine, number_body()).json()["number_id"]
    inbound = {"agent": agent_id, "call_policy": {"max_call_duration_seconds": 600}}
    assert ok(_patch(engine, number_id, {"inbound": inbound}))["inbound"] == inbound
    refused(engine.request("DELETE", papi(f"/agents/{agent_id}")), 409, "AgentInUse")
    assert ok(_patch(engine, number_id, {"inbound": None}))["inbound"] is None
    assert engine.request("DELETE", papi(f"/agents/{agent_id}")).status_code == 200


def test_the_number_can_be_reformatted_but_not_changed(engine: Client) -> None:
    number_id = create_number(engine, number_body()).json()["number_id"]
    assert (
        ok(_patch(engine, number_id, {"number": "+1 (415) 555-0100"}))["number"]
        == "+1 (415) 555-0100"
    )
    refused(_patch(engine, number_id, {"number": "+14155550199"}), 400, "InvalidRequest")


@pytest.mark.parametrize("field", ["number", "description", "sip_trunk"])
def test_fields_other_than_inbound_cannot_be_null(engine: Client, field: str) -> None:
    number_id = create_number(engine, number_body()).json()["number_id"]
    assert refused(_patch(engine, number_id, {field: None}), 400, "InvalidRequest").startswith(
        f"{field}:"
    )


def test_delete_answers_deleted_true_then_404(engine: Client) -> None:
    number_id = create_number(engine, number_body()).json()["number_id"]
    assert ok(engine.request("DELETE", papi(f"/numbers/{number_id}"))) == {"deleted": True}
    refused(engine.request("GET", papi(f"/numbers/{number_id}")), 404, "NotFound")
    refused(engine.request("DELETE", papi(f"/numbers/{number_id}")), 404, "NotFound")
