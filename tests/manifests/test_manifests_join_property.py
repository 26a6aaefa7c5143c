"""Whatever ``validate`` accepts, the engine's join accepts: no restart stops an agent for a spec
the engine then refuses.

The property runs random join bodies through both sides: the manifest loader (with or without
an App Certificate in the settings) and the sandbox's join validation, which answers 400 with
the engine's reasons (``InvalidRequestBody``, ``MissingRequiredField``, ``InvalidFieldValue``).
If the loader accepts a manifest, the body apply would send for it (its spec, with a token when
one is minted or written) must pass the sandbox. The join ``name`` is left out: apply makes it.
Rules that cannot be checked locally are listed in ``docs/manifest-rules.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ValidationError
from reconciler.sandbox.errors import ApiFailure
from reconciler.sandbox.validation import validate_join
from tests.manifests.manifest_helpers import CERTIFICATE, Project

MINTED = "007minted-token-stand-in"
ABSENT = object()

UIDS = ["0", "1001", "4294967295", "4294967296", "-1", "abc", "", "*", "00042", "1.5", "bob"]
CHANNELS = ["room-1", "", "a" * 64, "a" * 65, "room\n", "room/1", "sales room", "ch-é"]
BLOCK = st.sampled_from([ABSENT, None, {}, "text", [1], 3])


def _optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(ABSENT), st.none(), values)


VALID_PROPERTIES: dict[str, Any] = {
    "channel": "room-1",
    "agent_rtc_uid": "1001",
    "remote_rtc_uids": ["*"],
    "idle_timeout": 0,
    "llm": {"url": "https://llm.example/v1", "params": {"model": "m"}},
    "tts": {"vendor": "microsoft"},
}
"""A valid agent's properties; each example changes a few keys of it (or of the top level)."""

PROPERTY_MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "channel": _optional(st.one_of(st.sampled_from(CHANNELS), st.text(max_size=70), st.integers())),
    "agent_rtc_uid": _optional(st.one_of(st.sampled_from(UIDS), st.integers(-1, 5))),
    "remote_rtc_uids": _optional(
        st.one_of(
            st.lists(st.one_of(st.sampled_from(UIDS), st.integers(0, 3)), max_size=3),
            st.sampled_from(["*", "1002"]),
        )
    ),
    "enable_string_uid": _optional(
        st.one_of(
            st.booleans(), st.sampled_from(["yes", "true", "no", "1", "x"]), st.integers(0, 2)
        )
    ),
    "idle_timeout": _optional(
        st.one_of(st.integers(-3, 120), st.sampled_from(["30", "-1", "x", 1.5, True]))
    ),
    "token": _optional(st.sampled_from(["", "literal-token", 5])),
    "llm": _optional(
        st.one_of(
            st.fixed_dictionaries(
                {"url": st.just("https://llm.example/v1")},
                optional={
                    "params": st.sampled_from([{"model": "m"}, [1], "p", None]),
                    "system_messages": st.sampled_from(
                        [[{"role": "system", "content": "hi"}], {"a": 1}, "s", [1], None]
                    ),
                },
            ),
            BLOCK,
        )
    ),
    "tts": _optional(st.one_of(st.just({"vendor": "microsoft"}), BLOCK)),
    "asr": BLOCK,
    "mllm": _optional(st.one_of(st.sampled_from([{"enable": True}, {"enable": False}]), BLOCK)),
    "avatar": BLOCK,
    "advanced_features": BLOCK,
    "parameters": BLOCK,
}
TOP_MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "token": st.sampled_from([ABSENT, None, "", "literal-top"]),
    "preset": st.sampled_from([ABSENT, None, "deepgram_nova_3", 7]),
    "pipeline_id": st.sampled_from([ABSENT, None, "pipe-1", ["x"]]),
    "properties": st.sampled_from([ABSENT, None, "text", [1]]),
}


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid manifest (``token: auto``) with up to three keys changed at random."""
    props = dict(VALID_PROPERTIES)
    top: dict[str, Any] = {"token": "auto", "properties": props}
    keys = sorted(PROPERTY_MUTATIONS) + [f"top.{k}" for k in sorted(TOP_MUTATIONS)]
    for key in draw(st.sets(st.sampled_from(keys), max_size=3)):
        if key.startswith("top."):
            top[key[4:]] = draw(TOP_MUTATIONS[key[4:]])
        else:
            props[key] = draw(PROPERTY_MUTATIONS[key])
    return top


def _drop_absent(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_absent(v) for k, v in value.items() if v is not ABSENT}
    return value


def _body(agent_spec: dict[str, Any], token_mode: str) -> dict[str, Any]:
    """The join body apply sends for an agent: its spec, a minted token for ``token: auto``."""
    body = json.loads(json.dumps({"name": "a-1", **agent_spec}))
    if token_mode == "auto":
        body["properties"]["token"] = MINTED
    return body


VERDICTS: Counter[str] = Counter()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(manifest=manifests(), certificate=st.booleans())
def test_every_body_validate_accepts_is_accepted_by_the_engines_join(
    project: Project, manifest: dict[str, Any], certificate: bool
) -> None:
    document = {"name": "a", **_drop_absent(manifest)}
    # JSON is YAML: the file holds exactly these values (nulls included).
    (project.root / "agents.d" / "a.yaml").write_text(json.dumps(document), encoding="utf-8")
    cert = CERTIFICATE if certificate else None
    try:
        agent = project.load(app_certificate=cert).agents["a"]
    except ValidationError:
        VERDICTS["refused by validate"] += 1
        return
    body = _body(agent.spec, agent.token_mode)
    try:
        validate_join(body, require_token=certificate)
    except ApiFailure as failure:  # pragma: no cover - the defect this test is for
        pytest.fail(
            f"validate accepted {document!r} but the engine's join refuses its body "
            f"{body!r}: {failure.status} {failure}"
        )
    VERDICTS["accepted by both"] += 1


def test_the_property_saw_both_verdicts() -> None:
    """The random bodies are neither all accepted nor all refused (else the property is void)."""
    if not VERDICTS:
        pytest.skip("run with the property test")
    assert VERDICTS["accepted by both"] > 0 and VERDICTS["refused by validate"] > 0, VERDICTS
