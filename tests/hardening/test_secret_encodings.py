"""An engine or Platform error that echoes a secret never shows it, whatever encoding the server
quoted it in: each hostile secret (quotes, a backslash, `%`, `+`, `/`, `=`, `<&>`, non-ASCII, an
emoji, line breaks, text that reads as an escape: `\\/`, `&amp;`), echoed in each encoding a real
server uses (an HTML error page, JSON from any encoder, a Python or YAML quoting, a value cut at
its first line break or cut short), in the detail and the reason of a 400 to the SecretSet's
create, is absent from everything `apply` prints, in text and JSON. The scan
(`tests/secret_scan.py`) decodes what was printed; it does not encode the secret the way the
scrubber does."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.cli.platform_project import Platform, platform_on
from tests.secret_scan import find_leaks

SECRETS = {
    "hostile": "sk-\"q\\uo'te é%+/=😀<&>tail",
    "escape-like": 'tok\\/en&amp;\\u0041"<x>',
    "multi-line": "-----BEGIN KEY-----\nMIIEvQIBAD+ANBgk/qhkiG9w0=\n-----END KEY-----",
}


def go_json(secret: str) -> str:
    """As Go's encoding/json writes a string: `<`, `>`, `&` as `\\u003c`, `\\u003e`, `\\u0026`."""
    text = json.dumps(secret, ensure_ascii=False)[1:-1]
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def cut(secret: str) -> str:
    """The first two thirds of ``secret``: what a server that truncates long values quotes."""
    return secret[: 2 * len(secret) // 3]


def upper_escape(char: str) -> str:
    """``char`` as ``\\uXXXX`` in upper-case hex (a surrogate pair beyond the BMP), as Java's
    and some other JSON encoders write every character outside ASCII."""
    units = char.encode("utf-16-be")
    return "".join(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))


ENCODINGS: dict[str, Callable[[str], str]] = {
    "an HTML error page": lambda s: f"<html><body><pre>{html.escape(s)}</pre></body></html>",
    "HTML with numeric references": lambda s: "".join(
        c if c.isalnum() else f"&#{ord(c)};" for c in s
    ),
    "XML with hex references": lambda s: "".join(
        c if c.isalnum() else f"&#x{ord(c):X};" for c in s
    ),
    "JSON with escaped slashes": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "JSON from Go": go_json,
    "JSON with upper-case \\u escapes": lambda s: "".join(
        c if c.isascii() and c.isalnum() else upper_escape(c) for c in s
    ),
    "JSON inside JSON": lambda s: json.dumps(json.dumps({"key": s}))[1:-1],
    "a Python repr": lambda s: repr(s),
    "a Python ascii()": lambda s: ascii(s),
    "a YAML double-quoted scalar": lambda s: yaml.safe_dump(s, default_style='"', width=10_000),
    "HTML-escaped, percent-encoded": lambda s: quote(html.escape(s), safe=""),
    "JSON from Go, percent-encoded": lambda s: quote(go_json(s), safe=""),
    "up to its first line break": lambda s: s.splitlines()[0] + " ...",
    "its last line": lambda s: "... " + s.splitlines()[-1],
    "cut short by the server": lambda s: f'{{"body": "{cut(s)}..."}}',
    "cut short at the end of the text": lambda s: f"request was: {cut(s)}",
}
CASES = [
    (secret, encoding)
    for secret in SECRETS
    for encoding in ENCODINGS
    if (secret == "multi-line" or "line" not in encoding)
    and ("cut short" not in encoding or len(cut(SECRETS[secret]).encode()) >= 16)
]


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The example's Platform manifests on an in-process sandbox, nothing applied."""
    yield from platform_on(tmp_path, monkeypatch, "state/agents.json")


@pytest.mark.parametrize(("secret", "encoding"), CASES)
def test_an_error_echoing_a_secret_in_any_encoding_never_shows_it(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, secret: str, encoding: str
) -> None:
    value = SECRETS[secret]
    monkeypatch.setenv("OPENAI_API_KEY", value)
    echoed = ENCODINGS[encoding](value)
    platform.fault(
        route="create-secret-set", status=400, reason=f"Bad {echoed}", detail=f"you sent {echoed}"
    )
    texts = []
    for args in (["apply", "--auto-approve"], ["apply", "--auto-approve", "--format", "json"]):
        result = platform.run(*args)
        assert "Traceback" not in result.output, str(result)
        assert "you sent" in result.output, str(result)  # the error was shown, scrubbed
        texts.append((" ".join(args), result.output))
    assert find_leaks(texts, {secret: value, f"{secret}, cut short": cut(value)}, "\0") == []


AGENT = """\
name: echoed
token: auto
properties:
  channel: echoed
  agent_rtc_uid: "1"
  remote_rtc_uids: ["*"]
  llm: {url: "https://llm.example/v1?key=${OPENAI_API_KEY}", api_key: "${OPENAI_API_KEY}"}
  asr: {vendor: ares, language: en-US}
  tts: {vendor: microsoft, params: {key: "${SIP_PASSWORD}", region: eastus, voice_name: v}}
"""


@pytest.mark.parametrize("route", ["join", "create-secret-set", "create-number"])
@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_an_error_quoting_the_whole_request_never_shows_a_secret(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, route: str, secret: str
) -> None:
    """The sandbox's `echo` fault quotes the request as it received it (the JSON body with its
    escapes, the Authorization header): the engine's join of an agent whose key sits in its
    URL too, the secret set's keys, the number's SIP password."""
    value = SECRETS[secret]
    monkeypatch.setenv("OPENAI_API_KEY", value)
    monkeypatch.setenv("SIP_PASSWORD", value[::-1])
    (platform.dir / "agents.d" / "echoed.yaml").write_text(AGENT, encoding="utf-8")
    platform.fault(route=route, status=400, echo=True)
    texts = []
    for args in (["apply", "--auto-approve"], ["apply", "--auto-approve", "--format", "json"]):
        result = platform.run(*args)
        assert "Traceback" not in result.output, str(result)
        assert "request body: " in result.output, str(result)  # the error was shown, scrubbed
        texts.append((" ".join(args), result.output))
    secrets = {secret: value, "the SIP password": value[::-1]}
    assert find_leaks(texts, secrets, "\0") == []
