"""Manifest models of how the agent converses: turn detection, interruption and filler words.

Part of :class:`~reconciler.models.manifest.Properties` (``turn_detection``, ``interruption``,
``filler_words``), as the engine's join body defines them, with the ranges and values Agora
documents for them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from reconciler.models.block import Block, Int64, Params

# --- turn taking ---------------------------------------------------------------------------


class StartOfSpeechVad(Block):
    interrupt_duration_ms: int | None = Field(default=None, ge=120, le=1200)
    speaking_interrupt_duration_ms: Int64 | None = Field(default=None, ge=0)
    prefix_padding_ms: int | None = Field(default=None, ge=0, le=5000)


class StartOfSpeech(Block):
    mode: Literal["vad", "keywords", "disabled", "manual"] | None = None
    vad_config: StartOfSpeechVad | None = None
    keywords_config: dict[str, Any] | None = None
    disabled_config: dict[str, Any] | None = None


class EndOfSpeechVad(Block):
    silence_duration_ms: int | None = Field(default=None, ge=120, le=2000)


class EndOfSpeechSemantic(Block):
    silence_duration_ms: Int64 | None = Field(default=None, ge=0)
    max_wait_ms: int | None = Field(default=None, description="-1 (no limit) or 500 to 10000")
    pause_state_enabled: bool | None = None

    @field_validator("max_wait_ms")
    @classmethod
    def _max_wait(cls, value: int | None) -> int | None:
        if value is not None and value != -1 and not 500 <= value <= 10000:
            raise PydanticCustomError("max_wait", "must be -1 (no limit) or 500 to 10000")
        return value


class EndOfSpeech(Block):
    mode: Literal["vad", "semantic", "manual"] | None = None
    vad_config: EndOfSpeechVad | None = None
    semantic_config: EndOfSpeechSemantic | None = None


class TurnDetectionConfig(Block):
    speech_threshold: float | None = Field(default=None, ge=0, le=1)
    start_of_speech: StartOfSpeech | None = None
    end_of_speech: EndOfSpeech | None = None


class TurnDetection(Block):
    """When the user's turn starts and ends (flat keys after ``config`` are deprecated)."""

    mode: str | None = None
    config: TurnDetectionConfig | None = None
    language: str | None = None
    type: str | None = None
    interrupt_mode: str | None = None
    interrupt_duration_ms: Int64 | None = None
    interrupt_keywords: Any = None
    prefix_padding_ms: Int64 | None = None
    silence_duration_ms: Int64 | None = None
    threshold: float | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    eagerness: str | None = None


class KeywordsConfig(Block):
    trigger_keywords: list[str] | None = Field(default=None, max_length=128)


class DisabledConfig(Block):
    strategy: Literal["append", "ignore"] | None = None


class Interruption(Block):
    enable: bool | None = None
    mode: Literal["start_of_speech", "keywords"] | None = None
    keywords_config: KeywordsConfig | None = None
    disabled_config: DisabledConfig | None = None


# --- filler words --------------------------------------------------------------------------


class FixedTimeConfig(Block):
    response_wait_ms: int | None = Field(default=None, ge=100, le=10000)


class FillerTrigger(Block):
    mode: Literal["fixed_time"] | None = None
    fixed_time_config: FixedTimeConfig | None = None


class StaticConfig(Block):
    phrases: list[str] | None = Field(default=None, max_length=100)
    selection_rule: Literal["shuffle", "round_robin"] | None = None


class LlmProvider(Block):
    url: str | None = None
    api_key: str | None = None
    params: Params | None = None


class GeneratedConfig(Block):
    llm_provider: LlmProvider | None = None
    prompt: str | None = None
    fallback_strategy: Literal["static"] | None = None
    context_message_limit: Int64 | None = Field(default=None, ge=0)
    history_character_limit: Int64 | None = Field(default=None, ge=0)


class FillerContent(Block):
    mode: Literal["static", "generated"] | None = None
    static_config: StaticConfig | None = None
    generated_config: GeneratedConfig | None = None


class FillerWords(Block):
    enable: bool | None = None
    trigger: FillerTrigger | None = None
    content: FillerContent | None = None
