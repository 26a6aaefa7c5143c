"""Every integer of a join fits the engine's 64-bit integers.

The engine answers a larger one with 400 ``InvalidFieldValue`` (docs/engine-api.md), and a
restart for such a spec would have stopped the running agent first. So validate refuses any
integer field of the manifest models beyond ``2**63 - 1``, also those whose documented range has
no upper bound (``idle_timeout``, ``silence_timeout``, ...).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import pydantic
import pytest
from pydantic import BaseModel

from reconciler.models.manifest import Manifest
from tests.manifests.manifest_helpers import Project

LARGEST = 2**63 - 1


def _int_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every integer field under ``model`` (through nested models, not lists)."""
    found: list[tuple[str, ...]] = []
    for name, info in model.model_fields.items():
        args = [info.annotation]
        origin = typing.get_origin(info.annotation)
        if origin is Union or origin is types.UnionType:
            args = [a for a in typing.get_args(info.annotation) if a is not type(None)]
        for arg in args:
            if typing.get_origin(arg) is typing.Annotated:
                arg = typing.get_args(arg)[0]
            if arg is int:
                found.append((*prefix, info.alias or name))
            elif isinstance(arg, type) and issubclass(arg, BaseModel):
                found.extend(_int_fields(arg, (*prefix, info.alias or name)))
    return found


PATHS = _int_fields(Manifest.model_fields["properties"].annotation)  # type: ignore[arg-type]


def _manifest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "channel": "room-1",
        "agent_rtc_uid": "1001",
        "remote_rtc_uids": ["*"],
        "llm": {"url": "https://llm.example/v1"},
        "tts": {"vendor": "microsoft"},
    }
    here = props
    for part in path[:-1]:
        here = here.setdefault(part, {})
    here[path[-1]] = value
    return {"name": "a", "properties": props}


def test_the_models_have_integer_fields_to_check() -> None:
    assert ("idle_timeout",) in PATHS and len(PATHS) > 10


@pytest.mark.parametrize("path", PATHS, ids=[".".join(p) for p in PATHS])
def test_an_integer_beyond_64_bits_is_refused(path: tuple[str, ...]) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Manifest.model_validate(_manifest(path, LARGEST + 1))
    assert [e["loc"][-1] for e in caught.value.errors()] == [path[-1]]


def test_validate_names_the_idle_timeout_beyond_64_bits_at_its_line(project: Project) -> None:
    project.agent("a.yaml", "a", props=f"idle_timeout: {LARGEST + 1}\n")
    assert project.errors() == [
        f"agents.d/a.yaml:12: properties.idle_timeout: must be <= {LARGEST}"
    ]


def test_the_largest_64_bit_idle_timeout_is_accepted(project: Project) -> None:
    project.agent("a.yaml", "a", props=f"idle_timeout: {LARGEST}\n")
    assert project.load().agents["a"].spec["properties"]["idle_timeout"] == LARGEST


def test_a_phone_number_call_limit_beyond_64_bits_is_refused(project: Project) -> None:
    project.write(
        "agents.d/line.yaml",
        f"""\
        kind: SavedAgent
        name: helper
        spec: {{instructions: hi, llm: {{vendor: openai, model: gpt-4o-mini}}}}
        ---
        kind: PhoneNumber
        name: line
        spec:
          number: "+14155550100"
          sip_trunk: {{name: acme, hostname: sip.example.com}}
          inbound:
            agent: {{ref: SavedAgent/helper}}
            call_policy: {{max_call_duration_seconds: {LARGEST + 1}}}
        """,
    )
    assert project.errors() == [
        "agents.d/line.yaml:12: spec.inbound.call_policy: max_call_duration_seconds must be a "
        f"positive whole number (at most {LARGEST})"
    ]
