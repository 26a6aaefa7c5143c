"""The schema shipped for editors (docs/manifest.schema.json) and ``validate`` agree.

Generated manifests (a valid agent with one field changed to a value of any JSON type, or a key
added) are given to both:

- what the schema accepts, ``validate`` accepts: an editor never passes a manifest that the tool
  then refuses for a reason the schema could have stated (a type, a range, a choice, a key);
- what ``validate`` accepts, the schema accepts, unless ``validate`` took it only by converting
  it to the declared type (``idle_timeout: "30"`` is sent as ``30``, so that ``${IDLE}`` works):
  a manifest of the declared types that the schema refuses would show a false error in the
  editor.

The identifiers (channel, uids) and the rules across fields are not changed here: the schema
states them only in part (docs/manifest-rules.md; ``test_manifests_engine_rules.py``).
"""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ValidationError
from reconciler.manifests import load_desired, manifest_schema
from reconciler.models import Settings
from reconciler.models.manifest import Manifest
from reconciler.models.platform import MANIFEST_MODELS

AGENT: dict[str, Any] = {
    "name": "a",
    "properties": {
        "channel": "room-1",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["*"],
        "llm": {"url": "https://llm.example/v1"},
        "tts": {"vendor": "microsoft"},
    },
}
SECRET_SET: dict[str, Any] = {"kind": "SecretSet", "name": "keys", "keys": {"a": "${A}"}}
SAVED_AGENT: dict[str, Any] = {
    "kind": "SavedAgent",
    "name": "helper",
    "spec": {"instructions": "hi", "llm": {"vendor": "openai", "model": "gpt-4o-mini"}},
}
PHONE_NUMBER: dict[str, Any] = {
    "kind": "PhoneNumber",
    "name": "line",
    "spec": {
        "number": "+14155550100",
        "sip_trunk": {"name": "acme", "hostname": "sip.example.com"},
        "inbound": {"agent": None},
    },
}
BASES = {"Agent": AGENT, "SecretSet": SECRET_SET, "SavedAgent": SAVED_AGENT}
BASES["PhoneNumber"] = PHONE_NUMBER
ENVIRON = {"A": "secret-value"}
RULED = {
    ("kind",),
    ("name",),
    ("extends",),
    ("environments",),
    ("overrides",),
    ("import",),
    ("properties",),
    ("properties", "channel"),
    ("properties", "agent_rtc_uid"),
    ("properties", "remote_rtc_uids"),
    ("properties", "enable_string_uid"),
    ("properties", "token"),
    ("properties", "llm"),
    ("properties", "tts"),
    ("properties", "mllm"),
    ("token",),
    ("preset",),
    ("pipeline_id",),
}
"""Paths the rules across fields read (a required block, the identifiers, the token, the
environments): changed here, ``validate`` refuses for a rule the schema does not state."""


@cache
def _schema() -> dict[str, Any]:
    return manifest_schema()


def _resolve(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas ``node`` may be (through ``$ref`` and ``anyOf``)."""
    if "$ref" in node:
        return _resolve(_schema()["$defs"][node["$ref"].rsplit("/", 1)[1]])
    found = [node] if node.get("type") == "object" and "properties" in node else []
    for option in node.get("anyOf", []):
        found.extend(_resolve(option))
    return found


@cache
def _fields(kind: str) -> list[tuple[tuple[str, ...], tuple[Any, ...]]]:
    """Every key path of the schema of ``kind``, with the choices (``enum``/``const``) it
    lists."""
    found: list[tuple[tuple[str, ...], tuple[Any, ...]]] = []

    def walk(node: dict[str, Any], prefix: tuple[str, ...], depth: int) -> None:
        for obj in _resolve(node):
            for key, sub in obj["properties"].items():
                path = (*prefix, key)
                choices: list[Any] = []
                for option in [sub, *sub.get("anyOf", [])]:
                    choices.extend(option.get("enum", []))
                    if "const" in option:
                        choices.append(option["const"])
                found.append((path, tuple(choices)))
                if depth < 6:
                    walk(sub, path, depth + 1)

    walk(_schema()["$defs"][f"{kind}Manifest"], (), 0)
    return [(p, c) for p, c in found if p not in RULED and not _ruled(kind, p)]


def _ruled(kind: str, path: tuple[str, ...]) -> bool:
    """Paths of a Platform kind that rules beyond the schema read (references, the trunk's
    host, the number's routing, the secret values that must come from the environment)."""
    if kind == "Agent":
        return False
    return path[:2] in {("spec", "inbound"), ("spec", "sip_trunk"), ("spec", "llm")} or (
        path[:1] == ("keys",) or path == ("spec", "number")
    )


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=130_000),
    st.sampled_from([-1, 2**63 - 1, 2**63, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "x", "30", "yes", "auto", "single_first", "GLOBAL", "rtm"]),
    st.lists(st.sampled_from(["a", 1, 3]), max_size=2),
    st.dictionaries(st.sampled_from(["a", "role", "content"]), st.sampled_from(["x", 1])),
)


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(BASES)))
    doc: dict[str, Any] = json.loads(json.dumps(BASES[kind]))
    path, choices = draw(st.sampled_from(_fields(kind)))
    value = draw(st.sampled_from(choices) if choices and draw(st.booleans()) else VALUES)
    here = doc
    for part in path[:-1]:
        if not isinstance(here.get(part), dict):
            here[part] = {}
        here = here[part]
    here[path[-1]] = value
    if draw(st.integers(0, 9)) == 0:
        here[draw(st.sampled_from(["vendr", "extra_key", "enable"]))] = "x"
    return doc


def _validate_accepts(doc: dict[str, Any]) -> bool:
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "agents.d").mkdir()
        (Path(root) / "agents.d" / "a.yaml").write_text(json.dumps(doc), encoding="utf-8")
        try:
            load_desired(Settings.model_validate({"project_dir": root}), ENVIRON)
        except ValidationError:
            return False
    return True


def _strictly_typed(doc: dict[str, Any]) -> bool:
    """Whether ``doc``'s values have the declared types as written (no conversion needed)."""
    model = MANIFEST_MODELS.get(doc.get("kind", ""), Manifest)
    try:
        model.model_validate(doc, strict=True)
    except pydantic.ValidationError:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests())
def test_the_schema_and_validate_agree(doc: dict[str, Any]) -> None:
    editor = jsonschema.Draft202012Validator(_schema()).is_valid(doc)
    tool = _validate_accepts(doc)
    if editor:
        assert tool, f"the schema accepts, validate refuses: {doc}"
    elif tool and doc.get("strict") is not False:  # strict: false keeps unknown keys
        assert not _strictly_typed(doc), f"validate accepts as written, the schema refuses: {doc}"
