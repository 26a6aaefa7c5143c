"""Whatever is in agents.d, the loader returns agents or located problems, never anything else."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ValidationError
from reconciler.manifests import load_desired
from reconciler.models import DesiredSet, FieldPath, Settings

CERT = "0123456789abcdef0123456789abcdef"
ENVIRON = {"SET": "value", "EMPTY": ""}

KEYS = st.sampled_from(
    [
        "name",
        "extends",
        "token",
        "strict",
        "preset",
        "pipeline_id",
        "properties",
        "channel",
        "agent_rtc_uid",
        "remote_rtc_uids",
        "enable_string_uid",
        "idle_timeout",
        "llm",
        "tts",
        "asr",
        "mllm",
        "enable",
        "params",
        "api_key",
        "system_messages",
        "role",
        "content",
        "labels",
    ]
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["auto", "1001", "*", "x", "_base/a.yaml", "${SET}", "${MISSING}", "$${"])
    | st.text(max_size=12)
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)
YAML_ALPHABET = (
    st.sampled_from(list(" \n\t-:{}[],'\"#&*!|>%@`?$_.0123456789abcnrue")) | st.characters()
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="manifest-fuzz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def load_texts(workdir: Path, files: dict[str, str]) -> DesiredSet | ValidationError:
    agents = workdir / "agents.d"
    shutil.rmtree(agents, ignore_errors=True)
    (agents / "_base").mkdir(parents=True)
    for name, text in files.items():
        (agents / name).write_bytes(text.encode("utf-8", "surrogatepass"))
    config = Settings.model_validate({"project_dir": workdir, "app_certificate": CERT})
    try:
        return load_desired(config, ENVIRON)
    except ValidationError as exc:
        return exc


def check(outcome: DesiredSet | ValidationError) -> None:
    if isinstance(outcome, ValidationError):
        assert outcome.problems
        for problem in outcome.problems:
            assert problem.location.path.startswith("agents.d")
            assert problem.message
            assert "Traceback" not in problem.message
    else:
        for agent in outcome.agents.values():
            assert agent.spec["properties"]["channel"] is not None


def dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(YAML_ALPHABET, max_size=80), as_partial=st.booleans())
def test_arbitrary_yaml_text(workdir: Path, text: str, as_partial: bool) -> None:
    name = "_base/a.yaml" if as_partial else "a.yaml"
    check(load_texts(workdir, {name: text}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(JSONISH, min_size=1, max_size=3), partial=JSONISH)
def test_arbitrary_nested_data(workdir: Path, documents: list[Any], partial: Any) -> None:
    text = "---\n".join(dump(document) for document in documents)
    check(load_texts(workdir, {"a.yaml": text, "_base/a.yaml": dump(partial)}))


# Mostly-valid manifests (choices repeat the valid values to weigh them), so both outcomes occur.
VALID_LLM = {"url": "https://${SET}/v1", "api_key": "k", "params": {"model": "m"}}
VALID_TTS = {"vendor": "microsoft", "params": {"key": "${SET}", "region": "eastus"}}
MANIFESTS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "a", "a", "b", "b", "Bad", "a" * 50]),
        "properties": st.fixed_dictionaries(
            {
                "channel": st.sampled_from(["c", "${SET}"]),
                "agent_rtc_uid": st.sampled_from(["1", "1", "1", "x", "${MISSING}"]),
                "remote_rtc_uids": st.lists(st.sampled_from(["2", "*", "2", "bob"]), max_size=2),
                "llm": st.just(VALID_LLM) | st.just(VALID_LLM) | JSONISH,
                "tts": st.just(VALID_TTS) | st.just(VALID_TTS) | JSONISH,
            },
            optional={
                "idle_timeout": st.integers(0, 5) | st.integers(-5, 5) | st.text(max_size=3),
                "mllm": st.fixed_dictionaries({"enable": st.booleans()}),
                "enable_string_uid": st.booleans(),
                "labels": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
                "extra": JSONISH,
            },
        ),
    },
    optional={
        "token": st.sampled_from(["auto", "007abc", "${SET}", "", None]),
        "strict": st.booleans(),
        "extends": st.sampled_from(["_base/a.yaml", "_base/a.yaml", "_base/none.yaml", "../x"]),
        "preset": st.sampled_from(["p", None]),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(MANIFESTS, min_size=1, max_size=2), partial=MANIFESTS)
def test_manifest_shaped_data(workdir: Path, documents: list[Any], partial: dict[str, Any]) -> None:
    partial.pop("name")
    partial.pop("extends", None)
    text = "---\n".join(dump(document) for document in documents)
    outcome = load_texts(workdir, {"a.yaml": text, "_base/a.yaml": dump(partial)})
    check(outcome)
    if isinstance(outcome, DesiredSet):
        for agent in outcome.agents.values():
            assert agent.sensitive <= _paths(agent.spec) | {FieldPath(("properties", "token"))}


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> set[FieldPath]:
    found = {FieldPath(prefix)} if prefix else set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= _paths(item, (*prefix, index))
    return found
