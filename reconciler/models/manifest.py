"""Typed models of a manifest document (one agent in ``agents.d/``) and its core properties.

These models are used to validate manifests and to generate their JSON Schema. They describe the
keys the engine documents (``agora-api.md`` section 7); vendor ``params`` and a few blocks whose
shape is not documented pass through as free-form mappings.

Every model accepts unknown keys at the pydantic level (``extra="allow"``) so that a manifest with
``strict: false`` keeps them; the loader reports unknown keys itself, with a suggestion
(``reconciler.manifests.introspect``). The generated JSON Schema forbids them
(``additionalProperties: false``), so editors flag a typo as you type.

Rules that tie several fields together are in :func:`check_rules`:

- ``agent_rtc_uid`` must be digits, and each of ``remote_rtc_uids`` digits or ``"*"``, unless
  ``enable_string_uid`` is true;
- ``llm`` and ``tts`` are required unless ``mllm.enable`` is true or ``preset`` or
  ``pipeline_id`` is given;
- the token is set at the top level or in ``properties``, not both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
"""An agent's name: its key across the project."""

MAX_UID = 2**32 - 1


class _Block(BaseModel):
    """Base of every manifest model: unknown keys kept (strict mode is the loader's job)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})


Params = dict[str, Any]
"""Vendor parameters: passed to the engine untouched."""


# --- llm -----------------------------------------------------------------------------------


class Message(_Block):
    """An OpenAI-style chat message (``system_messages`` items)."""

    role: str
    content: Any = None
    name: str | None = None
    tool_calls: Any = None
    tool_call_id: str | None = None


class GreetingConfigs(_Block):
    mode: str | None = Field(default=None, description="single_every or single_first")
    delay_ms: int | None = Field(default=None, ge=0)
    audio_download_timeout_ms: int | None = Field(default=None, ge=0)
    audio_pcm_sample_rate: int | None = Field(default=None, ge=0)
    uninterruptible_asr_policy: Any = None


class Llm(_Block):
    """The large language model of a cascaded (asr + llm + tts) agent."""

    url: str | None = None
    api_key: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    region: str | None = None
    model: str | None = None
    vendor: str | None = Field(default=None, description="custom, azure, aliyun, ...")
    style: str | None = Field(default=None, description="openai, gemini, anthropic, dify, bedrock")
    system_messages: list[Message] | None = None
    params: Params | None = Field(default=None, description="Vendor parameters, e.g. model.")
    max_history: int | None = Field(default=None, ge=1)
    input_modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    greeting_message: str | None = None
    greeting_audio_url: str | None = None
    greeting_configs: GreetingConfigs | None = None
    failure_message: str | None = None
    ignore_empty: bool | None = None
    template_variables: dict[str, Any] | None = None
    mcp_servers: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    headers: dict[str, str] | None = None


# --- asr / tts / mllm / avatar -------------------------------------------------------------


class Asr(_Block):
    """Speech recognition."""

    vendor: str | None = Field(default=None, description="ares, deepgram, microsoft, ...")
    language: str | None = None
    params: Params | None = None
    keywords: Any = None


class Tts(_Block):
    """Speech synthesis."""

    vendor: str | None = Field(default=None, description="microsoft, elevenlabs, minimax, ...")
    params: Params | None = None
    skip_patterns: list[int] | None = None
    credential_mode: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None


class Mllm(_Block):
    """A multimodal (speech-to-speech) model: the alternative to asr + llm + tts."""

    enable: bool | None = None
    vendor: str | None = Field(default=None, description="openai, azure, gemini, vertexai, ...")
    url: str | None = None
    api_key: str | None = None
    adc_credentials_string: str | None = None
    project_id: str | None = None
    location: str | None = None
    messages: list[dict[str, Any]] | None = None
    params: Params | None = None
    max_history: int | None = Field(default=None, ge=1)
    input_modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    greeting_message: str | None = None
    failure_message: str | None = None
    tools: list[dict[str, Any]] | None = None
    mcp_servers: list[dict[str, Any]] | None = None
    predefined_tools: Any = None
    turn_detection: dict[str, Any] | None = None


class Avatar(_Block):
    enable: bool | None = None
    vendor: str | None = None
    params: Params | None = None


# --- turn taking ---------------------------------------------------------------------------


class StartOfSpeechVad(_Block):
    interrupt_duration_ms: int | None = Field(default=None, ge=0)
    speaking_interrupt_duration_ms: int | None = Field(default=None, ge=0)
    prefix_padding_ms: int | None = Field(default=None, ge=0)


class StartOfSpeech(_Block):
    mode: str | None = Field(default=None, description="vad, keywords, disabled or manual")
    vad_config: StartOfSpeechVad | None = None
    keywords_config: dict[str, Any] | None = None
    disabled_config: dict[str, Any] | None = None


class EndOfSpeechVad(_Block):
    silence_duration_ms: int | None = Field(default=None, ge=0)


class EndOfSpeechSemantic(_Block):
    silence_duration_ms: int | None = Field(default=None, ge=0)
    max_wait_ms: int | None = None
    pause_state_enabled: bool | None = None


class EndOfSpeech(_Block):
    mode: str | None = Field(default=None, description="vad, semantic or manual")
    vad_config: EndOfSpeechVad | None = None
    semantic_config: EndOfSpeechSemantic | None = None


class TurnDetectionConfig(_Block):
    speech_threshold: float | None = Field(default=None, ge=0, le=1)
    start_of_speech: StartOfSpeech | None = None
    end_of_speech: EndOfSpeech | None = None


class TurnDetection(_Block):
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


class KeywordsConfig(_Block):
    trigger_keywords: list[str] | None = None


class DisabledConfig(_Block):
    strategy: str | None = Field(default=None, description="append or ignore")


class Interruption(_Block):
    enable: bool | None = None
    mode: str | None = Field(default=None, description="start_of_speech or keywords")
    keywords_config: KeywordsConfig | None = None
    disabled_config: DisabledConfig | None = None


# --- filler words --------------------------------------------------------------------------


class FixedTimeConfig(_Block):
    response_wait_ms: int | None = Field(default=None, ge=0)


class FillerTrigger(_Block):
    mode: str | None = None
    fixed_time_config: FixedTimeConfig | None = None


class StaticConfig(_Block):
    phrases: list[str] | None = None
    selection_rule: str | None = Field(default=None, description="shuffle or round_robin")


class LlmProvider(_Block):
    url: str | None = None
    api_key: str | None = None
    params: Params | None = None


class GeneratedConfig(_Block):
    llm_provider: LlmProvider | None = None
    prompt: str | None = None
    fallback_strategy: str | None = None
    context_message_limit: int | None = Field(default=None, ge=0)
    history_character_limit: int | None = Field(default=None, ge=0)


class FillerContent(_Block):
    mode: str | None = Field(default=None, description="static or generated")
    static_config: StaticConfig | None = None
    generated_config: GeneratedConfig | None = None


class FillerWords(_Block):
    enable: bool | None = None
    trigger: FillerTrigger | None = None
    content: FillerContent | None = None


# --- the rest of properties ----------------------------------------------------------------


class SilenceConfig(_Block):
    timeout_ms: int | None = Field(default=None, ge=0)
    action: str | None = Field(default=None, description="speak or think")
    content: str | None = None


class FarewellConfig(_Block):
    graceful_enabled: bool | None = None
    graceful_timeout_seconds: int | None = Field(default=None, ge=0)


class Parameters(_Block):
    silence_config: SilenceConfig | None = None
    farewell_config: FarewellConfig | None = None
    data_channel: str | None = Field(default=None, description="rtm or datastream")
    enable_metrics: bool | None = None
    enable_error_message: bool | None = None
    audio_scenario: str | None = None
    opt_out: bool | None = None
    transcript: Any = None


class Geofence(_Block):
    area: str | None = Field(default=None, description="GLOBAL, NORTH_AMERICA, EUROPE, ...")
    exclude_area: Any = None


class AdvancedFeatures(_Block):
    enable_rtm: bool | None = None
    enable_sal: bool | None = None
    enable_tools: bool | None = None
    enable_mllm: bool | None = None
    enable_aivad: bool | None = None
    enable_bhvs: bool | None = None


class Rtc(_Block):
    encryption_key: str | None = None
    encryption_salt: str | None = None
    encryption_mode: int | None = Field(default=None, ge=1, le=8)


class Sal(_Block):
    sal_mode: str | None = Field(default=None, description="locking or recognition")
    sample_urls: dict[str, str] | None = None


class Properties(_Block):
    """The engine's join ``properties``, sent as written after interpolation."""

    channel: str = Field(description="RTC channel the agent joins.")
    token: str | None = Field(
        default=None, description="Literal RTC token; prefer the top-level `token: auto`."
    )
    enable_string_uid: bool | None = Field(
        default=None, description="True: uids are string accounts; false: digits."
    )
    agent_rtc_uid: str = Field(description='The agent\'s uid, a string ("0": random).')
    remote_rtc_uids: list[str] = Field(description='Users the agent talks with; ["*"]: anyone.')
    idle_timeout: int | None = Field(default=None, ge=0, description="Seconds; 0: never idle.")
    geofence: Geofence | None = None
    advanced_features: AdvancedFeatures | None = None
    asr: Asr | None = None
    llm: Llm | None = None
    tts: Tts | None = None
    mllm: Mllm | None = None
    avatar: Avatar | None = None
    turn_detection: TurnDetection | None = None
    interruption: Interruption | None = None
    parameters: Parameters | None = None
    filler_words: FillerWords | None = None
    rtc: Rtc | None = None
    sal: Sal | None = None
    labels: dict[str, str] | None = Field(default=None, description="Echoed in webhooks.")
    vad: Any = None
    agent_rtm_uid: str | None = None
    silence_timeout: int | None = Field(default=None, ge=0)


class Manifest(_Block):
    """One agent: a YAML document in ``agents.d/``."""

    model_config = ConfigDict(
        title="Agent manifest",
        json_schema_extra={"additionalProperties": False},
    )

    name: str = Field(
        pattern=NAME_PATTERN, description="Key of the agent across agents.d (unique)."
    )
    extends: str | None = Field(
        default=None,
        description="A partial to deep-merge under this one, relative to agents.d "
        "(e.g. _base/openai.yaml).",
    )
    strict: bool = Field(
        default=True, description="false: allow keys this tool does not know (new engine fields)."
    )
    token: str | None = Field(
        default=None,
        description="auto: minted from the App Certificate at apply; or a literal token.",
    )
    preset: str | None = Field(default=None, description="Comma-separated engine preset ids.")
    pipeline_id: str | None = Field(default=None, description="An AI Studio pipeline id.")
    properties: Properties

    @model_validator(mode="after")
    def _rules(self) -> Manifest:
        violations = check_rules(self._rules_view())
        if violations:
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            raise PydanticCustomError(
                "manifest_rule",
                "{message}",
                {
                    "message": violations[0].message + more,
                    "violations": [(v.path, v.message) for v in violations],
                },
            )
        return self

    def _rules_view(self) -> dict[str, Any]:
        """The fields :func:`check_rules` reads, as it would find them in ``model_dump()``.

        Built from the validated attributes: dumping the whole manifest just to check these
        took as long as validating it.
        """
        props = self.properties
        return {
            "token": self.token,
            "preset": self.preset,
            "pipeline_id": self.pipeline_id,
            "properties": {
                "token": props.token,
                "enable_string_uid": props.enable_string_uid,
                "agent_rtc_uid": props.agent_rtc_uid,
                "remote_rtc_uids": props.remote_rtc_uids,
                "llm": props.llm,
                "tts": props.tts,
                "mllm": None if props.mllm is None else {"enable": props.mllm.enable},
            },
        }


# --- rules spanning several fields ---------------------------------------------------------


@dataclass(frozen=True)
class RuleViolation:
    """A cross-field rule broken at ``path`` (canonical form, e.g. ``properties.agent_rtc_uid``)."""

    path: str
    message: str


def _is_uint(value: str) -> bool:
    return value.isascii() and value.isdigit() and int(value) <= MAX_UID


def _truthy(value: Any) -> bool:
    """``True`` as pydantic's lax bool would read it (``true``, ``"yes"``, ``1``, ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "t", "y")
    return value is True or (isinstance(value, int) and value == 1)


def check_rules(doc: Any) -> list[RuleViolation]:
    """The cross-field rules of a manifest, on its raw (merged, interpolated) data.

    Tolerates any shape: keys of the wrong type are the business of field validation.
    """
    if not isinstance(doc, dict):
        return []
    props = doc.get("properties")
    if not isinstance(props, dict):
        return []
    found: list[RuleViolation] = []
    if not _truthy(props.get("enable_string_uid")):
        uid = props.get("agent_rtc_uid")
        if isinstance(uid, str) and not _is_uint(uid):
            found.append(
                RuleViolation(
                    "properties.agent_rtc_uid",
                    f"agent_rtc_uid must be a numeric uid (digits, at most {MAX_UID})"
                    " unless enable_string_uid is true",
                )
            )
        remotes = props.get("remote_rtc_uids")
        if isinstance(remotes, list):
            for index, remote in enumerate(remotes):
                if isinstance(remote, str) and remote != "*" and not _is_uint(remote):
                    found.append(
                        RuleViolation(
                            f"properties.remote_rtc_uids[{index}]",
                            f'remote_rtc_uids[{index}] must be a numeric uid or "*"'
                            " unless enable_string_uid is true",
                        )
                    )
    mllm = props.get("mllm")
    mllm_on = isinstance(mllm, dict) and _truthy(mllm.get("enable"))
    if not mllm_on and not doc.get("preset") and not doc.get("pipeline_id"):
        for block in ("llm", "tts"):
            if props.get(block) is None:
                found.append(
                    RuleViolation(
                        "properties",
                        f"missing required key '{block}' in properties (needed unless "
                        "mllm.enable is true, or preset or pipeline_id is set)",
                    )
                )
    if doc.get("token") is not None and props.get("token") is not None:
        found.append(
            RuleViolation(
                "properties.token",
                "token is set both at the top level and in properties; keep one",
            )
        )
    return found
