"""Typed models of a manifest document (one agent in ``agents.d/``) and its core properties.

These models are used to validate manifests and to generate their JSON Schema. They describe the
keys the engine documents for a join, with the ranges and the values it documents (the engine
refuses a join outside them with 400 ``InvalidFieldValue``, and a restart would then have stopped
the running agent); vendor ``params`` and a few blocks whose shape is not documented pass
through as free-form mappings. ``docs/manifest-rules.md`` lists what is checked and what cannot
be.

The base class is in :mod:`reconciler.models.block` (unknown keys kept for ``strict: false``,
forbidden in the JSON Schema); turn taking and filler words in
:mod:`reconciler.models.conversation`; the engine's rules for the channel and the uids, and
the rules that tie several fields together, in :mod:`reconciler.models.rules`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from reconciler.models.block import Block, Int64, Params
from reconciler.models.conversation import FillerWords, Interruption, TurnDetection
from reconciler.models.rules import CHANNEL_CHARACTERS, CHANNEL_PATTERN, check_rules

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
"""An agent's name: its key across the project."""
MAX_HISTORY = 1024
"""Most messages an LLM's context cache may keep (``max_history``)."""

# --- llm -----------------------------------------------------------------------------------


class Message(Block):
    """An OpenAI-style chat message (``system_messages`` items)."""

    role: str
    content: Any = None
    name: str | None = None
    tool_calls: Any = None
    tool_call_id: str | None = None


class GreetingConfigs(Block):
    mode: Literal["single_every", "single_first"] | None = None
    delay_ms: int | None = Field(default=None, ge=0, le=5000)
    audio_download_timeout_ms: Int64 | None = Field(default=None, ge=0)
    audio_pcm_sample_rate: Int64 | None = Field(default=None, ge=0)
    uninterruptible_asr_policy: Any = None


class Llm(Block):
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
    max_history: int | None = Field(default=None, ge=1, le=MAX_HISTORY)
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


class Asr(Block):
    """Speech recognition."""

    vendor: str | None = Field(default=None, description="ares, deepgram, microsoft, ...")
    language: str | None = None
    params: Params | None = None
    keywords: Any = None


class Tts(Block):
    """Speech synthesis."""

    vendor: str | None = Field(default=None, description="microsoft, elevenlabs, minimax, ...")
    params: Params | None = None
    skip_patterns: list[Annotated[int, Field(ge=1, le=5)]] | None = Field(
        default=None, description="Bracket styles to skip (1 to 5)."
    )
    credential_mode: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None


class Mllm(Block):
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
    max_history: int | None = Field(default=None, ge=1, le=MAX_HISTORY)
    input_modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    greeting_message: str | None = None
    failure_message: str | None = None
    tools: list[dict[str, Any]] | None = None
    mcp_servers: list[dict[str, Any]] | None = None
    predefined_tools: Any = None
    turn_detection: dict[str, Any] | None = None


class Avatar(Block):
    enable: bool | None = None
    vendor: str | None = None
    params: Params | None = None


# --- the rest of properties ----------------------------------------------------------------


class SilenceConfig(Block):
    timeout_ms: int | None = Field(default=None, ge=0, le=60000)
    action: Literal["speak", "think"] | None = None
    content: str | None = None


class FarewellConfig(Block):
    graceful_enabled: bool | None = None
    graceful_timeout_seconds: int | None = Field(default=None, ge=0, le=120)


class Parameters(Block):
    silence_config: SilenceConfig | None = None
    farewell_config: FarewellConfig | None = None
    data_channel: Literal["rtm", "datastream"] | None = None
    enable_metrics: bool | None = None
    enable_error_message: bool | None = None
    audio_scenario: Literal["default", "chorus", "aiserver"] | None = None
    opt_out: bool | None = None
    transcript: Any = None


class Geofence(Block):
    area: Literal["GLOBAL", "NORTH_AMERICA", "EUROPE", "ASIA", "INDIA", "JAPAN"] | None = None
    exclude_area: Any = None


class AdvancedFeatures(Block):
    enable_rtm: bool | None = None
    enable_sal: bool | None = None
    enable_tools: bool | None = None
    enable_mllm: bool | None = None
    enable_aivad: bool | None = None
    enable_bhvs: bool | None = None


class Rtc(Block):
    encryption_key: str | None = None
    encryption_salt: str | None = None
    encryption_mode: int | None = Field(default=None, ge=1, le=8)


class Sal(Block):
    sal_mode: Literal["locking", "recognition"] | None = None
    sample_urls: dict[str, str] | None = None


class Properties(Block):
    """The engine's join ``properties``, sent as written after interpolation."""

    channel: str = Field(
        description="RTC channel the agent joins: 1 to 64 letters, digits, spaces or "
        + CHANNEL_CHARACTERS.strip(),
        json_schema_extra={"pattern": CHANNEL_PATTERN},
    )
    token: str | None = Field(
        default=None, description="Literal RTC token; prefer the top-level `token: auto`."
    )
    enable_string_uid: bool | None = Field(
        default=None, description="True: uids are string accounts; false: digits."
    )
    agent_rtc_uid: str = Field(description='The agent\'s uid, a string ("0": random).')
    remote_rtc_uids: list[str] = Field(description='Users the agent talks with; ["*"]: anyone.')
    idle_timeout: Int64 | None = Field(default=None, ge=0, description="Seconds; 0: never idle.")
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
    silence_timeout: Int64 | None = Field(default=None, ge=0)


class Lifecycle(Block):
    """What happens to the agent when its manifest is removed."""

    on_delete: Literal["stop", "forget"] = Field(
        default="stop",
        description="stop (default); forget: drop its record and leave the agent running "
        "(recorded in state when applied).",
    )


AGENT_KIND = "Agent"
"""The kind of a running agent of the v2 engine: ``kind: Agent`` (the default, so a manifest may
leave it out), ``Agent/NAME`` in an address. Every module that names the kind reads it here."""


class Manifest(Block):
    """One agent: a YAML document in ``agents.d/``."""

    model_config = ConfigDict(
        title="Agent manifest",
        json_schema_extra={"additionalProperties": False},
    )

    kind: Literal["Agent"] = Field(
        default="Agent",
        description="Agent (the default): a running agent of the v2 engine. May be left out.",
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
    protect: bool = Field(
        default=False,
        description="true: a plan that would stop this agent because its manifest was removed "
        "(or destroy, without --force) fails; recorded in state.",
    )
    renamed_from: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="The agent's previous name: state's record moves here, no restart.",
    )
    import_: str | None = Field(
        default=None,
        alias="import",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The id of an agent already running in this manifest's channel, to take "
        "into state (reviewed like any change; a no-op once the state records the agent).",
    )
    lifecycle: Lifecycle | None = None
    restart_policy: Literal["always", "on-failure", "never"] = Field(
        default="always",
        description="Which exits the next apply heals by starting the agent again: always; "
        "on-failure (not idle-timeout or runtime-cap exits); never (drift reports only).",
    )
    desired: Literal["running", "stopped"] = Field(
        default="running",
        description="stopped: keep the manifest, but stop the agent (or do not start it).",
    )
    preset: str | None = Field(default=None, description="Comma-separated engine preset ids.")
    pipeline_id: str | None = Field(default=None, description="An AI Studio pipeline id.")
    properties: Properties

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Manifest:
        """The rules across fields (:func:`check_rules`). A context's ``unknown`` names paths
        whose value is unknown (an unset variable): no rule is checked there."""
        violations = check_rules(self._rules_view())
        unknown = (info.context or {}).get("unknown") if info is not None else None
        if unknown:
            violations = [v for v in violations if v.path not in unknown]
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
                "channel": props.channel,
                "token": props.token,
                "enable_string_uid": props.enable_string_uid,
                "agent_rtc_uid": props.agent_rtc_uid,
                "remote_rtc_uids": props.remote_rtc_uids,
                "llm": props.llm,
                "tts": props.tts,
                "mllm": None if props.mllm is None else {"enable": props.mllm.enable},
            },
        }
