"""The engine's rules for channels and uids are checked by validate, exactly as the engine
checks them: one table of good and bad values runs through both the manifest validator and the
sandbox's join validation, so the two cannot drift apart."""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic
import pytest

from reconciler.manifests import manifest_schema
from reconciler.models.manifest import Manifest
from reconciler.sandbox.errors import ApiFailure
from reconciler.sandbox.validation import validate_join
from tests.manifests.manifest_helpers import Project

NUMERIC = {"enable_string_uid": False}
STRING = {"enable_string_uid": True}

# (id, properties that differ from a valid agent's, accepted by the engine?)
TABLE: list[tuple[str, dict[str, Any], bool]] = [
    ("channel-plain", {"channel": "room-1"}, True),
    ("channel-64", {"channel": "a" * 64}, True),
    ("channel-65", {"channel": "a" * 65}, False),
    ("channel-accent", {"channel": "ch-é"}, False),
    ("channel-empty", {"channel": ""}, False),
    ("channel-space", {"channel": "sales room"}, True),
    ("channel-all-punctuation", {"channel": "!#$%&()+-:;<=.>?@[]^_{}|~,"}, True),
    ("channel-trailing-newline", {"channel": "room\n"}, False),
    ("channel-slash", {"channel": "room/1"}, False),
    ("channel-star", {"channel": "room*"}, False),
    ("channel-quote", {"channel": "room'1"}, False),
    ("channel-backslash", {"channel": "room\\1"}, False),
    ("channel-64-bytes-of-accents", {"channel": "é" * 32}, False),
    ("uid-zero", {"agent_rtc_uid": "0"}, True),
    ("uid-max", {"agent_rtc_uid": "4294967295"}, True),
    ("uid-max-plus-one", {"agent_rtc_uid": "4294967296"}, False),
    ("uid-leading-zeros", {"agent_rtc_uid": "00000000001"}, True),
    ("uid-negative", {"agent_rtc_uid": "-1"}, False),
    ("uid-decimal", {"agent_rtc_uid": "1.5"}, False),
    ("uid-empty", {"agent_rtc_uid": ""}, False),
    ("uid-letters", {"agent_rtc_uid": "abc"}, False),
    ("uid-arabic-digits", {"agent_rtc_uid": "\u0661\u0662"}, False),
    ("uid-5000-digits", {"agent_rtc_uid": "1" * 5000}, False),
    ("uid-star", {"agent_rtc_uid": "*"}, False),
    ("account", {**STRING, "agent_rtc_uid": "bob"}, True),
    ("account-255-bytes", {**STRING, "agent_rtc_uid": "b" * 255}, True),
    ("account-256-bytes", {**STRING, "agent_rtc_uid": "b" * 256}, False),
    ("account-256-bytes-of-accents", {**STRING, "agent_rtc_uid": "é" * 128}, False),
    ("account-empty", {**STRING, "agent_rtc_uid": ""}, False),
    ("account-explicitly-off", {**NUMERIC, "agent_rtc_uid": "bob"}, False),
    ("remote-anyone", {"remote_rtc_uids": ["*"]}, True),
    ("remote-none", {"remote_rtc_uids": []}, False),
    ("remote-letters", {"remote_rtc_uids": ["1", "x"]}, False),
    ("remote-too-large", {"remote_rtc_uids": ["4294967296"]}, False),
    ("remote-account", {**STRING, "remote_rtc_uids": ["alice"]}, True),
    ("remote-account-too-long", {**STRING, "remote_rtc_uids": ["a" * 256]}, False),
    ("idle-timeout-zero", {"idle_timeout": 0}, True),
    ("idle-timeout-negative", {"idle_timeout": -1}, False),
]


def _properties(changes: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channel": "room-1",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["1002"],
        "llm": {"url": "https://llm.example/v1/chat/completions"},
        "tts": {"vendor": "microsoft"},
    }
    return {**base, **changes}


def _manifest_accepts(props: dict[str, Any]) -> bool:
    try:
        Manifest.model_validate({"name": "a", "properties": props})
    except pydantic.ValidationError:
        return False
    return True


def _engine_accepts(props: dict[str, Any]) -> bool:
    try:
        validate_join({"name": "a-1", "properties": props}, require_token=False)
    except ApiFailure as failure:
        assert failure.status == 400, failure
        return False
    return True


@pytest.mark.parametrize(("changes", "accepted"), [r[1:] for r in TABLE], ids=[r[0] for r in TABLE])
def test_validate_and_the_engine_agree_on_every_channel_and_uid(
    changes: dict[str, Any], accepted: bool
) -> None:
    props = _properties(changes)
    assert _engine_accepts(props) is accepted, "the sandbox's verdict"
    assert _manifest_accepts(props) is accepted, "the manifest validator's verdict"


def test_a_65_character_channel_is_refused_at_its_line(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        f"""\
        name: a
        properties:
          channel: {"c" * 65}
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm: {{url: https://llm.example}}
          tts: {{vendor: microsoft}}
        """,
    )
    assert project.errors() == [
        "agents.d/a.yaml:3: channel must be at most 64 characters (it has 65)"
    ]


def test_a_channel_with_a_character_the_engine_refuses_is_refused_at_its_line(
    project: Project,
) -> None:
    project.agent("a.yaml", "a")
    text = (project.root / "agents.d/a.yaml").read_text(encoding="utf-8")
    (project.root / "agents.d/a.yaml").write_text(
        text.replace("channel: room-", "channel: ch-é-"), encoding="utf-8"
    )
    assert project.errors() == [
        "agents.d/a.yaml:3: channel may use only ASCII letters, digits, spaces and "
        "!#$%&()+-:;<=.>?@[]^_{}|~,"
    ]


def test_an_interpolated_channel_is_checked_with_its_value(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        properties:
          channel: ${CHAN}
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm: {url: https://llm.example}
          tts: {vendor: microsoft}
        """,
    )
    assert project.load({"CHAN": "ok-room"}).agents["a"].channel == "ok-room"
    assert project.errors({"CHAN": "x" * 70}) == [
        "agents.d/a.yaml:3: channel must be at most 64 characters (it has 70)"
    ]


def test_an_empty_remote_uid_list_is_refused(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        properties:
          channel: room
          agent_rtc_uid: "1"
          remote_rtc_uids: []
          llm: {url: https://llm.example}
          tts: {vendor: microsoft}
        """,
    )
    assert project.errors() == [
        'agents.d/a.yaml:5: remote_rtc_uids must name at least one uid ("*": anyone)'
    ]


def test_a_string_account_longer_than_255_bytes_is_refused(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        f"""\
        name: a
        properties:
          channel: room
          enable_string_uid: true
          agent_rtc_uid: {"b" * 256}
          remote_rtc_uids: ["alice"]
          llm: {{url: https://llm.example}}
          tts: {{vendor: microsoft}}
        """,
    )
    assert project.errors() == [
        "agents.d/a.yaml:5: agent_rtc_uid must be a string account of 1 to 255 bytes"
    ]


def test_a_uid_of_5000_digits_is_refused_not_a_crash(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        f"""\
        name: a
        properties:
          channel: room
          agent_rtc_uid: "{"1" * 5000}"
          remote_rtc_uids: ["{"2" * 5000}"]
          llm: {{url: https://llm.example}}
          tts: {{vendor: microsoft}}
        """,
    )
    assert project.errors() == [
        "agents.d/a.yaml:4: agent_rtc_uid must be a numeric uid (digits, at most 4294967295)"
        " unless enable_string_uid is true",
        'agents.d/a.yaml:5: remote_rtc_uids[0] must be a numeric uid or "*" unless'
        " enable_string_uid is true",
    ]


@pytest.mark.parametrize(
    ("channel", "accepted"),
    [(r[1]["channel"], r[2]) for r in TABLE if "channel" in r[1]],
    ids=[r[0] for r in TABLE if "channel" in r[1]],
)
def test_the_schema_tells_editors_the_same_channel_rule(channel: str, accepted: bool) -> None:
    pattern = manifest_schema()["$defs"]["Properties"]["properties"]["channel"]["pattern"]
    # JSON Schema patterns are ECMAScript: "$" is the end of the text (Python's \Z).
    assert (re.fullmatch(pattern.removeprefix("^").removesuffix("$"), channel) is not None) is (
        accepted
    )


COERCED: list[tuple[str, dict[str, Any]]] = [
    ("idle-timeout-as-text", {"idle_timeout": "30"}),
    ("idle-timeout-as-whole-float", {"idle_timeout": 30.0}),
    ("string-uid-flag-as-yes", {"enable_string_uid": "yes", "agent_rtc_uid": "bob"}),
]
ACCEPTED = [(r[0], r[1]) for r in TABLE if r[2]] + COERCED


@pytest.mark.parametrize("changes", [r[1] for r in ACCEPTED], ids=[r[0] for r in ACCEPTED])
def test_the_spec_of_every_valid_manifest_is_a_join_body_the_engine_accepts(
    project: Project, changes: dict[str, Any]
) -> None:
    manifest = {"name": "a", "properties": _properties(changes)}
    project.write("agents.d/a.yaml", json.dumps(manifest))  # JSON is YAML
    spec = project.load().agents["a"].spec
    assert _engine_accepts(spec["properties"])
