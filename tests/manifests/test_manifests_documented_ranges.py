"""The ranges and values Agora documents for a join are checked by validate.

The engine answers a value outside them with 400 ``InvalidFieldValue`` (or ignores it: which one
is not documented); either way a restart for such a spec would stop the running agent for a
join that fails or does not do what the manifest says. Each row holds one documented bound
or value, inside and just outside it.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from reconciler.models.manifest import Manifest
from tests.manifests.manifest_helpers import Project

BASE: dict[str, Any] = {
    "channel": "room-1",
    "agent_rtc_uid": "1001",
    "remote_rtc_uids": ["*"],
    "llm": {"url": "https://llm.example/v1"},
    "tts": {"vendor": "microsoft"},
}


def _nested(path: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for ``"a.b"``, merged over :data:`BASE`."""
    props: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    here = props
    *parents, last = path.split(".")
    for part in parents:
        here = here.setdefault(part, {})
    here[last] = value
    return props


# (path under properties, accepted values, refused values)
TABLE: list[tuple[str, list[Any], list[Any]]] = [
    ("llm.max_history", [1, 1024], [0, 1025]),
    ("mllm.max_history", [1, 1024], [0, 1025]),
    ("llm.greeting_configs.mode", ["single_every", "single_first"], ["every", "SINGLE_FIRST"]),
    ("llm.greeting_configs.delay_ms", [0, 5000], [-1, 5001]),
    ("tts.skip_patterns", [[1, 5]], [[0], [6]]),
    ("geofence.area", ["GLOBAL", "JAPAN"], ["global", "MARS"]),
    ("rtc.encryption_mode", [1, 8], [0, 9]),
    ("sal.sal_mode", ["locking", "recognition"], ["lock"]),
    ("parameters.data_channel", ["rtm", "datastream"], ["udp"]),
    ("parameters.audio_scenario", ["default", "chorus", "aiserver"], ["loud"]),
    ("parameters.silence_config.timeout_ms", [0, 60000], [-1, 60001]),
    ("parameters.silence_config.action", ["speak", "think"], ["shout"]),
    ("parameters.farewell_config.graceful_timeout_seconds", [0, 120], [-1, 121]),
    ("turn_detection.config.speech_threshold", [0, 1], [-0.1, 1.1]),
    (
        "turn_detection.config.start_of_speech.mode",
        ["vad", "keywords", "disabled", "manual"],
        ["x"],
    ),
    (
        "turn_detection.config.start_of_speech.vad_config.interrupt_duration_ms",
        [120, 1200],
        [119, 1201],
    ),
    ("turn_detection.config.start_of_speech.vad_config.prefix_padding_ms", [0, 5000], [-1, 5001]),
    ("turn_detection.config.end_of_speech.mode", ["vad", "semantic", "manual"], ["x"]),
    (
        "turn_detection.config.end_of_speech.vad_config.silence_duration_ms",
        [120, 2000],
        [119, 2001],
    ),
    (
        "turn_detection.config.end_of_speech.semantic_config.max_wait_ms",
        [-1, 500, 10000],
        [0, 499, 10001],
    ),
    ("interruption.mode", ["start_of_speech", "keywords"], ["x"]),
    ("interruption.keywords_config.trigger_keywords", [["k"] * 128], [["k"] * 129]),
    ("interruption.disabled_config.strategy", ["append", "ignore"], ["drop"]),
    ("filler_words.trigger.mode", ["fixed_time"], ["random"]),
    ("filler_words.trigger.fixed_time_config.response_wait_ms", [100, 10000], [99, 10001]),
    ("filler_words.content.mode", ["static", "generated"], ["x"]),
    ("filler_words.content.static_config.phrases", [["p"] * 100], [["p"] * 101]),
    ("filler_words.content.static_config.selection_rule", ["shuffle", "round_robin"], ["x"]),
    ("filler_words.content.generated_config.fallback_strategy", ["static"], ["x"]),
    ("idle_timeout", [0], [-1]),
]
CASES = [
    pytest.param(path, value, ok, id=f"{path}={value!r:.20}-{'ok' if ok else 'refused'}")
    for path, good, bad in TABLE
    for value, ok in [*((v, True) for v in good), *((v, False) for v in bad)]
]


def _accepts(props: dict[str, Any]) -> bool:
    try:
        Manifest.model_validate({"name": "a", "properties": props})
    except pydantic.ValidationError:
        return False
    return True


@pytest.mark.parametrize(("path", "value", "accepted"), CASES)
def test_validate_keeps_each_documented_range_and_value(
    path: str, value: Any, accepted: bool
) -> None:
    assert _accepts(_nested(path, value)) is accepted


def test_a_value_outside_its_documented_range_is_refused_at_its_line(project: Project) -> None:
    project.agent(
        "a.yaml",
        "a",
        props="parameters:\n  data_channel: udp\n  silence_config:\n    timeout_ms: 90000\n",
    )
    assert project.errors() == [
        "agents.d/a.yaml:13: properties.parameters.data_channel: input should be 'rtm' or "
        "'datastream'",
        "agents.d/a.yaml:15: properties.parameters.silence_config.timeout_ms: must be <= 60000",
    ]
