"""Platform secret sets through HTTP: create, list, retrieve, replace, update, delete, one key;
write-only values, ETag/If-Match, references that block deletes."""

from __future__ import annotations

import base64

import pytest

from tests.sandbox.platform_helpers import (
    SECRET_VALUE,
    agent_body,
    create_agent,
    create_set,
    etag,
    ok,
    papi,
    refused,
)
from tests.sandbox.sandbox_helpers import APP_ID, Client


def _never_shows(client: Client, text: str, value: str = SECRET_VALUE) -> None:
    encodings = [value, base64.b64encode(value.encode()).decode()]
    assert not any(e in text for e in encodings)


def test_create_answers_201_with_keys_etag_and_request_id_and_never_the_value(
    engine: Client,
) -> None:
    response = create_set(engine, "llm_keys", {"openai": SECRET_VALUE, "deepgram": "dg-value"})
    body = response.json()
    assert body["name"] == "llm_keys"
    assert body["keys"] == ["deepgram", "openai"]
    assert isinstance(body["create_ts"], int) and body["update_ts"] == body["create_ts"]
    assert response.headers["etag"].startswith('"')
    assert response.headers["agora-request-id"]
    for path in ("/secrets/llm_keys", "/secrets"):
        _never_shows(engine, engine.request("GET", papi(path)).text)
    _never_shows(engine, str(engine.control("GET", "/platform")))


def test_create_with_an_existing_name_is_refused(engine: Client) -> None:
    create_set(engine)
    response = engine.request(
        "POST", papi("/secrets"), json={"name": "llm_keys", "secrets": {"a": "b"}}
    )
    assert "llm_keys" in refused(response, 409, "SecretSetAlreadyExists")


def test_names_are_case_sensitive_and_scoped_to_the_project(engine: Client) -> None:
    create_set(engine, "keys")
    create_set(engine, "Keys")
    other = engine.request(
        "POST", papi("/secrets", "f" * 32), json={"name": "keys", "secrets": {"a": "b"}}
    )
    assert other.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"secrets": {"a": "b"}}, "name"),
        ({"name": "has-hyphen", "secrets": {"a": "b"}}, "name"),
        ({"name": "x" * 65, "secrets": {"a": "b"}}, "name"),
        ({"name": "ok"}, "secrets"),
        ({"name": "ok", "secrets": {}}, "secrets"),
        ({"name": "ok", "secrets": {"bad-key": "v"}}, "secrets"),
        ({"name": "ok", "secrets": {"k": 5}}, "secrets.k"),
        ({"name": "ok", "secrets": {"k": "v"}, "extra": 1}, "extra"),
    ],
)
def test_invalid_create_bodies_are_400_naming_the_field(
    engine: Client, body: dict[str, object], field: str
) -> None:
    detail = refused(engine.request("POST", papi("/secrets"), json=body), 400, "InvalidRequest")
    assert detail.startswith(f"{field}:")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("field", ["name", "keys"])
def test_a_replace_or_update_body_takes_only_secrets(
    engine: Client, method: str, field: str
) -> None:
    current = create_set(engine, "s", {"a": "1"}).headers["etag"]
    body = {"secrets": {"a": "2"}, field: "renamed" if field == "name" else ["a"]}
    response = engine.request(method, papi("/secrets/s"), json=body, headers={"If-Match": current})
    assert refused(response, 400, "InvalidRequest").startswith(f"{field}:")
    assert etag(engine, "/secrets/s") == current


def test_a_body_that_is_not_a_json_object_is_400(engine: Client) -> None:
    for content in (b"not json", b"[1]", b""):
        response = engine.request("POST", papi("/secrets"), content=content)
        refused(response, 400, "InvalidRequest")


def test_a_set_over_64_kib_is_refused_and_one_just_under_is_accepted(engine: Client) -> None:
    # {"k":"<value>"} is 8 bytes plus the value: 65,536 bytes in all is the largest allowed.
    fits = {"name": "big", "secrets": {"k": "v" * (64 * 1024 - 8)}}
    assert engine.request("POST", papi("/secrets"), json=fits).status_code == 201
    over = {"name": "big2", "secrets": {"k": "v" * (64 * 1024 - 7)}}
    assert "64 KiB" in refused(
        engine.request("POST", papi("/secrets"), json=over), 400, "InvalidRequest"
    )


def test_retrieve_of_an_unknown_set_is_404(engine: Client) -> None:
    refused(engine.request("GET", papi("/secrets/nope")), 404, "NotFound")


def test_replace_needs_if_match_and_keeps_only_the_keys_given(engine: Client) -> None:
    create_set(engine, "s", {"a": "1", "b": "2"})
    body = {"secrets": {"b": "22", "c": "3"}}
    refused(engine.request("PUT", papi("/secrets/s"), json=body), 428, "PreconditionRequired")
    stale = {"If-Match": '"stale"'}
    refused(
        engine.request("PUT", papi("/secrets/s"), json=body, headers=stale),
        412,
        "PreconditionFailed",
    )
    current = etag(engine, "/secrets/s")
    response = engine.request("PUT", papi("/secrets/s"), json=body, headers={"If-Match": current})
    assert ok(response)["keys"] == ["b", "c"]
    assert response.headers["etag"] != current
    check = {"app_id": APP_ID, "set": "s", "key": "b", "value": "22"}
    assert engine.control("POST", "/platform/secrets/check", check) == {"matches": True}


def test_update_sets_and_removes_keys_and_leaves_the_others(engine: Client) -> None:
    create_set(engine, "s", {"a": "1", "b": "2", "c": "3"})
    response = engine.request("PATCH", papi("/secrets/s"), json={"secrets": {"a": "11", "b": None}})
    assert ok(response)["keys"] == ["a", "c"]
    assert engine.control(
        "POST", "/platform/secrets/check", {"app_id": APP_ID, "set": "s", "key": "a", "value": "11"}
    ) == {"matches": True}
    assert engine.control(
        "POST", "/platform/secrets/check", {"app_id": APP_ID, "set": "s", "key": "c", "value": "3"}
    ) == {"matches": True}


def test_update_checks_an_if_match_when_one_is_sent(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    first = etag(engine, "/secrets/s")
    body = {"secrets": {"b": "2"}}
    assert (
        engine.request(
            "PATCH", papi("/secrets/s"), json=body, headers={"If-Match": first}
        ).status_code
        == 200
    )
    again = engine.request(
        "PATCH", papi("/secrets/s"), json={"secrets": {"c": "3"}}, headers={"If-Match": first}
    )
    refused(again, 412, "PreconditionFailed")


def test_an_update_that_changes_nothing_keeps_the_etag(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    before = etag(engine, "/secrets/s")
    response = engine.request("PATCH", papi("/secrets/s"), json={"secrets": {"a": "1", "zz": None}})
    assert response.headers["etag"] == before


def test_removing_every_key_is_refused(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    response = engine.request("PATCH", papi("/secrets/s"), json={"secrets": {"a": None}})
    refused(response, 400, "InvalidRequest")


def test_delete_needs_if_match_and_answers_deleted_true(engine: Client) -> None:
    create_set(engine, "s")
    refused(engine.request("DELETE", papi("/secrets/s")), 428, "PreconditionRequired")
    response = engine.request(
        "DELETE", papi("/secrets/s"), headers={"If-Match": etag(engine, "/secrets/s")}
    )
    assert ok(response) == {"deleted": True}
    refused(engine.request("GET", papi("/secrets/s")), 404, "NotFound")


def test_a_set_an_agent_references_cannot_be_deleted_or_lose_that_key(engine: Client) -> None:
    create_set(engine, "llm_keys", {"openai": SECRET_VALUE, "spare": "x"})
    agent_id = create_agent(engine).json()["agent_id"]
    headers = {"If-Match": etag(engine, "/secrets/llm_keys")}
    detail = refused(
        engine.request("DELETE", papi("/secrets/llm_keys"), headers=headers), 409, "SecretSetInUse"
    )
    assert agent_id in detail
    refused(engine.request("DELETE", papi("/secrets/llm_keys/keys/openai")), 409, "SecretSetInUse")
    patch = {"secrets": {"openai": None}}
    refused(engine.request("PATCH", papi("/secrets/llm_keys"), json=patch), 409, "SecretSetInUse")
    replace = {"secrets": {"spare": "y"}}
    headers = {"If-Match": etag(engine, "/secrets/llm_keys")}
    refused(
        engine.request("PUT", papi("/secrets/llm_keys"), json=replace, headers=headers),
        409,
        "SecretSetInUse",
    )
    assert ok(engine.request("DELETE", papi("/secrets/llm_keys/keys/spare"))) == {"deleted": True}
    # Once the agent is gone, so is the reference.
    assert ok(engine.request("DELETE", papi(f"/agents/{agent_id}"))) == {"deleted": True}
    headers = {"If-Match": etag(engine, "/secrets/llm_keys")}
    assert engine.request("DELETE", papi("/secrets/llm_keys"), headers=headers).status_code == 200


def test_set_key_answers_201_when_new_and_200_when_replaced_with_the_keys_etag(
    engine: Client,
) -> None:
    create_set(engine, "s", {"a": "1"})
    set_etag = etag(engine, "/secrets/s")
    new = engine.request("PUT", papi("/secrets/s/keys/b"), json={"value": "2"})
    assert ok(new, 201)["keys"] == ["a", "b"]
    key_etag = new.headers["etag"]
    assert etag(engine, "/secrets/s") != set_etag  # changing a key changes the set's ETag
    again = engine.request(
        "PUT", papi("/secrets/s/keys/b"), json={"value": "3"}, headers={"If-Match": key_etag}
    )
    assert again.status_code == 200
    stale = engine.request(
        "PUT", papi("/secrets/s/keys/b"), json={"value": "4"}, headers={"If-Match": key_etag}
    )
    refused(stale, 412, "PreconditionFailed")


def test_repeating_a_key_write_is_safe_and_keeps_its_etag(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    first = engine.request("PUT", papi("/secrets/s/keys/b"), json={"value": "2"})
    second = engine.request("PUT", papi("/secrets/s/keys/b"), json={"value": "2"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.headers["etag"] == second.headers["etag"]


def test_if_none_match_star_creates_a_key_only_if_it_is_absent(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    only_new = {"If-None-Match": "*"}
    assert (
        engine.request(
            "PUT", papi("/secrets/s/keys/b"), json={"value": "2"}, headers=only_new
        ).status_code
        == 201
    )
    refused(
        engine.request("PUT", papi("/secrets/s/keys/a"), json={"value": "9"}, headers=only_new),
        412,
        "PreconditionFailed",
    )
    check = {"app_id": APP_ID, "set": "s", "key": "a", "value": "1"}
    assert engine.control("POST", "/platform/secrets/check", check) == {"matches": True}


def test_set_key_validates_the_key_the_body_and_the_set(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    refused(
        engine.request("PUT", papi("/secrets/s/keys/bad-key"), json={"value": "v"}),
        400,
        "InvalidRequest",
    )
    refused(engine.request("PUT", papi("/secrets/s/keys/b"), json={}), 400, "InvalidRequest")
    refused(
        engine.request("PUT", papi("/secrets/s/keys/b"), json={"value": ""}), 400, "InvalidRequest"
    )
    refused(
        engine.request("PUT", papi("/secrets/nope/keys/b"), json={"value": "v"}), 404, "NotFound"
    )


def test_delete_key_checks_if_match_refuses_the_last_key_and_unknown_keys(engine: Client) -> None:
    create_set(engine, "s", {"a": "1"})
    b = engine.request("PUT", papi("/secrets/s/keys/b"), json={"value": "2"}).headers["etag"]
    refused(
        engine.request("DELETE", papi("/secrets/s/keys/b"), headers={"If-Match": '"x"'}),
        412,
        "PreconditionFailed",
    )
    assert ok(engine.request("DELETE", papi("/secrets/s/keys/b"), headers={"If-Match": b})) == {
        "deleted": True
    }
    refused(engine.request("DELETE", papi("/secrets/s/keys/b")), 404, "NotFound")
    refused(engine.request("DELETE", papi("/secrets/s/keys/a")), 400, "InvalidRequest")


def test_an_agent_reference_to_a_missing_set_or_key_is_refused(engine: Client) -> None:
    create_set(engine, "llm_keys", {"other": "x"})
    response = engine.request("POST", papi("/agents"), json=agent_body())
    assert "llm.credential.fields.api_key" in refused(response, 400, "InvalidReference")
