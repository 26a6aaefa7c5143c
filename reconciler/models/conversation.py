"""Manifest models of how the agent converses: turn detection, interruption and filler words.

Part of :class:`~reconciler.models.manifest.Properties` (``turn_detection``, ``interruption``,
``filler_words``), as the engine's join body defines them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reconciler.models.block import Block, Params

# --- turn taking ---------------------------------------------------------------------------


class StartOfSpeechVad(Block):
    interrupt_duration_ms: int | None = Field(default=None, ge=0)
    speaking_interrupt_duration_ms: int | None = Field(default=None, ge=0)
    prefix_padding_ms: int | None = Field(default=None, ge=0)


class StartOfSpeech(Block):
    mode: str | None = Field(default=None, description="vad, keywords, disabled or manual")
    vad_config: StartOfSpeechVad | None = None
    keywords_config: dict[str, Any] | None = None
    disabled_config: dict[str, Any] | None = None


class EndOfSpeechVad(Block):
    silence_duration_ms: int | None = Field(default=None, ge=0)


class EndOfSpeechSemantic(Block):
    silence_duration_ms: int | None = Field(default=None, ge=0)
    max_wait_ms: int | None = None
    pause_state_enabled: bool | None = None


class EndOfSpeech(Block):
    mode: str | None = Field(default=None, description="vad, semantic or manual")
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
    interrupt_duration_ms: int | None = None
    interrupt_keywords: Any = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    threshold: float | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    eagerness: str | None = None


class KeywordsConfig(Block):
    trigger_keywords: list[str] | None = None


class DisabledConfig(Block):
    strategy: str | None = Field(default=None, description="append or ignore")


class Interruption(Block):
    enable: bool | None = None
    mode: str | None = Field(default=None, description="start_of_speech or keywords")
    keywords_config: KeywordsConfig | None = None
    disabled_config: DisabledConfig | None = None


# --- filler words --------------------------------------------------------------------------


class FixedTimeConfig(Block):
    response_wait_ms: int | None = Field(default=None, ge=0)


class FillerTrigger(Block):
    mode: str | None = None
    fixed_time_config: FixedTimeConfig | None = None


class StaticConfig(Block):
    phrases: list[str] | None = None
    selection_rule: str | None = Field(default=None, description="shuffle or round_robin")


class LlmProvider(Block):
    url: str | None = None
    api_key: str | None = None
    params: Params | None = None


class GeneratedConfig(Block):
    llm_provider: LlmProvider | None = None
    prompt: str | None = None
    fallback_strategy: str | None = None
    context_message_limit: int | None = Field(default=None, ge=0)
    history_character_limit: int | None = Field(default=None, ge=0)


class FillerContent(Block):
    mode: str | None = Field(default=None, description="static or generated")
    static_config: StaticConfig | None = None
    generated_config: GeneratedConfig | None = None


class FillerWords(Block):
    enable: bool | None = None
    trigger: FillerTrigger | None = None
    content: FillerContent | None = None
