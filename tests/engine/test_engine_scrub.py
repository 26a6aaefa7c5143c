"""Engine text is scrubbed of every known secret in every form before it reaches an exception:
raw, base64 and base64url (padded or not, at any alignment), the Basic header's ``id:secret``,
hex, escaped (JSON of any encoder, HTML, a Python repr), and percent-encoded in whole or in part
(as an engine quotes a URL)."""

from __future__ import annotations

import base64
import html
import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from reconciler.engine import BasicAuth
from reconciler.engine.wire import scrub
from reconciler.errors import EngineError, EngineUnavailableError
from reconciler.sandbox import SandboxConfig
from tests.engine.engine_helpers import Recorder
from tests.engine.test_engine_sandbox import Env, props, run
from tests.secret_scan import find_leaks

SECRET = "sk-sandbox-secret-key"  # props()'s llm.api_key
CUSTOMER_ID = "scrub-customer"
CUSTOMER_SECRET = "scrub-CUSTOMER-secret-77"
BASIC = base64.b64encode(f"{CUSTOMER_ID}:{CUSTOMER_SECRET}".encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def encodings(secret: str) -> dict[str, str]:
    """The forms an engine could echo ``secret`` in."""
    return {
        "raw": secret,
        "base64": b64(secret),
        "base64 unpadded": b64(secret).rstrip("="),
        "base64url": b64url(secret),
        "base64url unpadded": b64url(secret).rstrip("="),
        "base64 after 1 byte": b64("x" + secret),
        "base64url after 2 bytes": b64url("xy" + secret).rstrip("="),
        "Basic id:secret": b64(f"{CUSTOMER_ID}:{secret}"),
        "hex": secret.encode().hex(),
        "HEX": secret.encode().hex().upper(),
        "JSON-escaped": json.dumps(secret)[1:-1],
        "JSON-escaped, ASCII only, escaped slashes": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "HTML-escaped": html.escape(secret),
        "in JSON inside JSON": json.dumps(json.dumps({"key": secret})),
        "a Python repr": repr(secret),
        "HTML-escaped, percent-encoded": quote(html.escape(secret), safe=""),
        "percent-encoded": quote(secret, safe=""),
        "percent-encoded, lower-case hex": quote(secret, safe="").lower(),
        "form-encoded": quote_plus(secret),
        "percent-encoded in part": partly_encoded(secret),
        "percent-encoded twice": quote(quote(secret, safe=""), safe=""),
        "in a percent-encoded URL": quote(f"https://llm.example/v1?key={secret}", safe=""),
        "base64, percent-encoded": quote(b64(secret), safe=""),
    }


def partly_encoded(secret: str) -> str:
    """Every other character percent-encoded (as a server that encodes only some)."""
    return "".join(quote(char, safe="") if index % 2 else char for index, char in enumerate(secret))


# A secret whose base64 and base64url differ (bytes that encode to '+' and '/').
AWKWARD = "k>>>?secret?~~~"
# A secret that percent-encoding changes in every way: '/', a space, '+', '&', '=' and non-ASCII.
URLISH = "k3y/with sp+ce&x=é"


ALIGNED = ["raw", "base64", "base64 unpadded", "base64url", "base64url unpadded"]
CASES = [(secret, form) for secret in (SECRET, AWKWARD, URLISH) for form in encodings(secret)]
# A 4-character secret is too short for a fragment at another alignment to be distinctive.
CASES += [("abcd", form) for form in ALIGNED]


@pytest.mark.parametrize(("secret", "form"), CASES)
def test_scrub_removes_every_encoding_of_a_secret(secret: str, form: str) -> None:
    text = f"the engine said <{encodings(secret)[form]}> and more"
    scrubbed = scrub(text, [secret], limit=1000)
    assert find_leaks([("scrubbed", scrubbed)], {"secret": secret}, "no Basic here") == []
    assert secret not in scrubbed and encodings(secret)[form] not in scrubbed
    assert scrubbed.startswith("the engine said <") and "(sensitive)" in scrubbed


def test_scrub_leaves_short_values_and_other_text_alone() -> None:
    assert scrub("abc is fine, so is YWJj", ["abc"]) == "abc is fine, so is YWJj"
    assert scrub("nothing secret", [SECRET]) == "nothing secret"


def test_scrub_cuts_to_the_limit_after_scrubbing() -> None:
    assert scrub(SECRET + "x" * 50, [SECRET], limit=20) == "(sensitive)xxxxxx..."


def test_scrub_makes_engine_text_one_line_without_control_characters() -> None:
    """Engine text ends up in an error message, a plan's reason and the watch's log lines: a
    newline in it would forge a line of output (`2026-... info reconcile.done: ...`), an escape
    sequence would reach the terminal."""
    text = "bad\r\n2026-01-01T00:00:00.000Z info reconcile.done: forged\x1b[31m\x07\u2028x\ty"
    assert scrub(text, []) == "bad 2026-01-01T00:00:00.000Z info reconcile.done: forged [31m x y"


def test_a_secret_holding_newlines_is_scrubbed_before_the_text_is_made_one_line() -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    assert scrub(f"credentials {key} refused", [key]) == "credentials (sensitive) refused"


def echo_of_everything() -> str:
    """An error detail that echoes the request's secrets and the credentials in every form."""
    forms = [*encodings(SECRET).values(), *encodings(CUSTOMER_SECRET).values()]
    return "you sent: " + " ".join(forms) + f" Authorization: Basic {BASIC}"


def leaks_in(error: EngineError) -> list[str]:
    texts = [("message", str(error)), ("detail", error.detail or ""), ("reason", error.reason)]
    secrets = {"llm.api_key": SECRET, "customer secret": CUSTOMER_SECRET}
    return find_leaks(texts, secrets, BASIC)


def sandbox_config() -> SandboxConfig:
    return SandboxConfig(stop_delay_s=0.0, customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET)


@pytest.mark.parametrize(("status", "error"), [(400, EngineError), (503, EngineUnavailableError)])
def test_a_sandbox_fault_echoing_secrets_in_any_encoding_is_scrubbed(
    recorder: Recorder, status: int, error: type[EngineError]
) -> None:
    async def scenario(env: Env) -> Any:
        rule = {"route": "join", "status": status, "detail": echo_of_everything()}
        await env.ctl("POST", "faults/rules", rule)
        with pytest.raises(error) as caught:
            await env.client.join("scrub-1", props())
        return caught.value

    caught = run(
        scenario,
        recorder,
        config=sandbox_config(),
        auth=BasicAuth(CUSTOMER_ID, CUSTOMER_SECRET),
        max_attempts=2,
    )
    assert leaks_in(caught) == []
    assert "you sent: (sensitive)" in (caught.detail or "")


def test_a_reason_echoing_a_secret_is_scrubbed_too(recorder: Recorder) -> None:
    async def scenario(env: Env) -> Any:
        rule = {"route": "join", "status": 400, "reason": f"Bad-{b64url(SECRET)}"}
        await env.ctl("POST", "faults/rules", rule)
        with pytest.raises(EngineError) as caught:
            await env.client.join("scrub-2", props())
        return caught.value

    caught = run(
        scenario, recorder, config=sandbox_config(), auth=BasicAuth(CUSTOMER_ID, CUSTOMER_SECRET)
    )
    assert leaks_in(caught) == []
    assert caught.reason.startswith("Bad-(sensitive)")


def test_the_engine_message_of_a_failed_agent_is_scrubbed(recorder: Recorder) -> None:
    """The message of an ended agent becomes the plan's reason (``failed: <message>``)."""

    async def scenario(env: Env) -> Any:
        env.client.add_secrets([SECRET])
        joined = await env.client.join("scrub-3", props())
        message = f"vendor refused key {b64(SECRET)} ({SECRET})"
        await env.ctl("POST", f"agents/{joined.agent_id}/crash", {"message": message})
        return await env.client.get(joined.agent_id)

    agent = run(
        scenario, recorder, config=sandbox_config(), auth=BasicAuth(CUSTOMER_ID, CUSTOMER_SECRET)
    )
    assert agent.status == "FAILED"
    assert agent.message == "vendor refused key (sensitive) ((sensitive))"


def test_a_secret_the_engine_cut_short_is_scrubbed_where_the_cut_shows() -> None:
    """A server that truncates a long value it quotes ends the text with it, or an ellipsis;
    16 bytes of the secret or more are masked there. Elsewhere a shared prefix is left alone
    (a URL secret's scheme and host in an unrelated message)."""
    key = "sk-" + "0123456789abcdef" * 4
    assert (
        scrub(f'body: {{"api_key": "{key[:30]}..."}}', [key])
        == 'body: {"api_key": "(sensitive)..."}'
    )
    assert scrub(f"request: {key[:20]}", [key]) == "request: (sensitive)"
    assert scrub(f'request: "{key[:20]}"', [key]) == 'request: "(sensitive)"'
    assert scrub(f"{key[:20]} is a prefix, then more", [key]).startswith(key[:20])
    assert scrub(f"request: {key[:15]}", [key]) == f"request: {key[:15]}"
