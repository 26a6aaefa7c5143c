"""Input that Python reads more loosely than JSON (RFC 8259) and a query string do is bad input,
on the engine and on the Platform: a 400 in each API's error shape, never a 500, a crash or an
answer that is not JSON. `NaN`, `Infinity`, a number too large for a double, a body nested
deeper than the parser goes and a string escaping half a surrogate pair (no Unicode text; I-JSON,
RFC 7493, forbids it) are not JSON; a digit other than 0-9 (a superscript two, an
Arabic-Indic three) or an underscore makes no number."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.platform_helpers import papi, refused
from tests.sandbox.sandbox_helpers import DEFAULT_PROPERTIES, Client, api, join_body

NOT_JSON = ["NaN", "-Infinity", "1e400", "deep", '"\\ud800"', '"a\\udfff"']


def _not_json(body: dict[str, object], token: str) -> bytes:
    """``body`` with ``token`` as the value of its ``"temperature"``, or a deep array."""
    if token == "deep":
        return b"[" * 100_000 + b"]" * 100_000
    return json.dumps(body).replace('"TOKEN"', token).encode()


def _engine_refused(response: object, reason: str, field: str) -> None:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert (body["reason"], field in body["detail"]) == (reason, True), body


@pytest.mark.parametrize("token", NOT_JSON)
def test_an_engine_body_that_is_not_json_is_400_invalid_request_body(
    engine: Client, token: str
) -> None:
    llm = dict(DEFAULT_PROPERTIES["llm"], params={"temperature": "TOKEN"})
    raw = _not_json(join_body(llm=llm), token)
    response = engine.request("POST", api("/join"), content=raw)
    _engine_refused(response, "InvalidRequestBody", "JSON")
    assert engine.list(state="0,1,2,3,4,5,6").json()["meta"]["total"] == 0


def test_an_update_with_a_non_finite_number_changes_nothing(engine: Client) -> None:
    agent_id = engine.start()
    raw = b'{"properties": {"llm": {"params": {"temperature": Infinity}}}}'
    response = engine.request("POST", api(f"/agents/{agent_id}/update"), content=raw)
    _engine_refused(response, "InvalidRequestBody", "JSON")
    assert engine.agent(agent_id)["properties"]["llm"] == DEFAULT_PROPERTIES["llm"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "inf"},
        {"limit": "1e400"},
        {"limit": "\u00b2"},
        {"limit": "1_0"},
        {"state": "\u00b2"},
        {"state": "\u0663"},
        {"from_time": "\u0661\u0667" + "\u0660" * 8},
        {"to_time": "1_700_000_000"},
        {"limit": str(2**63)},
        {"limit": "99999999999999999999999"},
    ],
)
def test_engine_list_parameters_take_only_ascii_finite_numbers(
    engine: Client, params: dict[str, str]
) -> None:
    engine.start()
    (field,) = params
    _engine_refused(engine.list(**params), "InvalidFieldValue", field)


def test_the_largest_64_bit_list_limit_answers_every_agent_in_one_page(engine: Client) -> None:
    ids = [engine.start(f"agent-{i}") for i in range(3)]
    body = engine.list(limit=str(2**63 - 1)).json()
    assert [item["agent_id"] for item in body["data"]["list"]] == ids
    assert body["meta"] == {"cursor": "", "total": 3}


@pytest.mark.parametrize("field", ["page_index", "page_size"])
@pytest.mark.parametrize("value", ["0", "x", "\u00b2", "\u0663", "1_0"])
def test_a_bad_turns_page_parameter_is_400_naming_that_parameter(
    engine: Client, field: str, value: str
) -> None:
    agent_id = engine.start()
    response = engine.request("GET", api(f"/agents/{agent_id}/turns"), params={field: value})
    _engine_refused(response, "InvalidFieldValue", field)
    other = "page_size" if field == "page_index" else "page_index"
    assert other not in response.json()["detail"]


@pytest.mark.parametrize("token", NOT_JSON)
def test_a_platform_body_that_is_not_json_is_400_and_nothing_is_saved(
    engine: Client, token: str
) -> None:
    body = {"agent_name": "n", "llm": {"vendor": "openai", "params": {"temperature": "TOKEN"}}}
    response = engine.request("POST", papi("/agents"), content=_not_json(body, token))
    assert "JSON" in refused(response, 400, "InvalidRequest")
    listed = engine.request("GET", papi("/agents"))
    assert json.loads(listed.text)["data"]["count"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/agents", {"limit": "\u00b2"}),
        ("/agents", {"limit": "\u0663"}),
        ("/secrets", {"limit": "1_0"}),
        ("/sessions", {"started_after": "\u00b2"}),
        ("/sessions", {"started_after": "-\u0663"}),
    ],
)
def test_platform_list_parameters_take_only_ascii_integers(
    engine: Client, path: str, params: dict[str, str]
) -> None:
    response = engine.request("GET", papi(path), params=params)
    (field,) = params
    assert field in refused(response, 400, "InvalidRequest")
