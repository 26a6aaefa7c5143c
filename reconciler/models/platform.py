"""Manifest models of the Conversational AI Platform's kinds: ``SecretSet``, ``SavedAgent`` and
``PhoneNumber`` (docs/platform-api.md; the kinds' modules are in :mod:`reconciler.kinds`).

The surface is fixed::

    kind: SecretSet        # name: the set's name on the Platform; keys: key -> value
    kind: SavedAgent       # name: ours (agent_name defaults to it); spec: the create-agent body
    kind: PhoneNumber      # name: ours; spec: the create-number body

Beside it, every kind takes ``protect: true`` (the resource is never deleted, not even by
``destroy`` without ``--force``). A ``{ref: KIND/NAME}`` stands wherever the Platform takes an
id (a number's ``inbound.agent``), ``$secrets.<set>.<key>`` wherever it takes a secret
reference (an agent's ``credential.fields``).

The models are declared with ``defer_build=True``: a kind's validator is built when a manifest
of that kind is first validated, not when this module is imported (every plan and apply imports
it, most projects declare none of these kinds).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.models.block import MAX_INT64
from reconciler.models.secretref import SECRET_NAME_PATTERN, SECRET_REFERENCE_PATTERN

RESOURCE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Our name of a saved agent or a number (the second half of its address ``KIND/NAME``)."""

SECRET_SET = "SecretSet"
SAVED_AGENT = "SavedAgent"
PHONE_NUMBER = "PhoneNumber"
PLATFORM_KINDS = (SECRET_SET, SAVED_AGENT, PHONE_NUMBER)
UNIQUE_FIELDS: dict[str, tuple[str, ...]] = {PHONE_NUMBER: ("number",)}
"""Top-level fields of a kind's spec whose value the Platform holds once per project (a second
create with it is refused): two manifests may not declare one value. A set's name is its
address already; a saved agent's ``agent_name`` need not be unique."""


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class _Open(BaseModel):
    """A body the Platform defines further than this project checks: other keys pass."""

    model_config = ConfigDict(defer_build=True, extra="allow")


class Ref(_Strict):
    """``{ref: KIND/NAME}``: the id of another resource of the manifests."""

    ref: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*/[A-Za-z0-9_.-]+$")


class SavedAgentRef(Ref):
    """``{ref: SavedAgent/NAME}``: a reference that only a saved agent may answer (a number's
    ``inbound.agent``); any other kind would send that resource's id where an agent id goes."""

    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        json_schema_extra={
            "properties": {
                "ref": {
                    "pattern": rf"^{SAVED_AGENT}/[A-Za-z0-9_.-]+$",
                    "title": "Ref",
                    "type": "string",
                }
            }
        },
    )

    @field_validator("ref")
    @classmethod
    def _names_a_saved_agent(cls, ref: str) -> str:
        if not ref.startswith(f"{SAVED_AGENT}/"):
            raise PydanticCustomError(
                "wrong_kind",
                "must name a saved agent ({kind}/NAME), not {ref}",
                {"kind": SAVED_AGENT, "ref": ref},
            )
        return ref


def _key_names_schema(schema: dict[str, Any]) -> None:
    """The schema of a set's ``keys``: every key name must match :data:`SECRET_NAME_PATTERN`
    (``propertyNames``, so that an editor flags a key the Platform refuses, as ``validate``
    does; pydantic's ``patternProperties`` alone lets any other name through)."""
    schema.pop("patternProperties", None)
    schema["propertyNames"] = {"pattern": SECRET_NAME_PATTERN}
    schema["additionalProperties"] = {"type": "string"}


class SecretSetManifest(_Strict):
    """A Platform secret set: write-only values, from the environment (``${VAR}``) only."""

    kind: Literal["SecretSet"]
    name: str = Field(pattern=SECRET_NAME_PATTERN, description="The set's name on the Platform.")
    keys: dict[Annotated[str, StringConstraints(pattern=SECRET_NAME_PATTERN)], str] = Field(
        min_length=1,
        description="Key name -> value (write it as ${VAR}: values come from the environment).",
        json_schema_extra=_key_names_schema,
    )
    protect: bool = False


class SavedAgentMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


SecretReference = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": SECRET_REFERENCE_PATTERN})
]
"""A string that must be a whole ``$secrets.<set>.<key>`` reference: the schema says so; the
manifests' check (:mod:`reconciler.manifests.secretrefs`) refuses any other value, with its
line, after interpolation (a value still unknown, as in ``plan --no-refresh``, is not judged)."""


class Credential(_Open):
    """A stage's credential: ``managed`` (the Platform's keys) or ``byok`` (``fields``: the
    provider's fields, each a reference to a key of a SecretSet; the Platform takes no keys)."""

    mode: Literal["managed", "byok"]
    fields: dict[str, SecretReference] | None = Field(
        default=None, description="Provider fields, each a $secrets.<set>.<key> reference."
    )

    @model_validator(mode="after")
    def _fields_fit_the_mode(self) -> Credential:
        if self.mode == "managed" and self.fields:
            raise PydanticCustomError(
                "platform_rule", "managed mode takes no provider keys: remove fields (or use byok)"
            )
        # byok without fields is not refused: a pulled agent's manifest has none (the Platform
        # never returns them) and its updates do not send them (docs/platform-api.md).
        return self


class Stage(_Open):
    """A pipeline stage (``asr``, ``llm``, ``tts``): vendor, model, params, credential."""

    vendor: str | None = Field(default=None, min_length=1)
    model: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] | None = None
    credential: Credential | None = None


class Greeting(_Open):
    text: str | None = None


VARIABLE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
"""A saved agent's variable name (documented: a lowercase letter, then up to 63 lowercase
letters, digits and ``_``)."""
SAVED_AGENT_READ_ONLY = ("agent_id", "create_ts", "update_ts")
"""Fields of an agent's answer that a body may not carry (UNCONFIRMED, docs/platform-api.md)."""

_ReadOnly = Annotated[Any, WithJsonSchema({"not": {}, "description": "Read-only: never sent."})]

STAGES = ("asr", "llm", "tts")
"""A saved agent's pipeline stages (UNCONFIRMED, docs/platform-api.md)."""


class SavedAgentSpec(_Open):
    """The create-agent body, 1:1 (``agent_name`` defaults to the manifest's ``name``)."""

    agent_name: str | None = Field(default=None, min_length=1, max_length=255)
    instructions: str | None = None
    messages: list[SavedAgentMessage] | None = None
    variables: (
        dict[Annotated[str, StringConstraints(pattern=VARIABLE_NAME_PATTERN)], dict[str, Any]]
        | None
    ) = None
    greeting: Greeting | None = None
    asr: Stage | None = None
    llm: Stage | None = None
    tts: Stage | None = None

    agent_id: _ReadOnly = None
    create_ts: _ReadOnly = None
    update_ts: _ReadOnly = None

    @field_validator(*SAVED_AGENT_READ_ONLY, mode="before")
    @classmethod
    def _read_only(cls, value: Any) -> Any:
        raise PydanticCustomError(
            "platform_rule", "read-only: the Platform sets it (remove it from spec)"
        )

    def credential_fields(self) -> dict[tuple[str, ...], str]:
        """Each provider field of the stages' credentials, by its path in the spec
        (``("llm", "credential", "fields", "api_key")``): each must be a secret reference."""
        found: dict[tuple[str, ...], str] = {}
        for name in STAGES:
            stage: Stage | None = getattr(self, name)
            fields = stage.credential.fields if stage and stage.credential else None
            for key, value in (fields or {}).items():
                found[(name, "credential", "fields", key)] = value
        return found


class SavedAgentManifest(_Strict):
    """A Platform agent (a saved configuration that sessions and numbers run)."""

    kind: Literal["SavedAgent"]
    name: str = Field(pattern=RESOURCE_NAME_PATTERN)
    spec: SavedAgentSpec
    protect: bool = False


class SipAuth(_Strict):
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


HOSTNAME_REFUSED = ":/@ "
"""Characters the Platform refuses in a trunk's ``hostname`` (documented: no scheme or port)."""


class SipTrunk(_Strict):
    """The trunk, checked as the Platform checks it (docs/platform-api.md, "Phone numbers"): a
    number the Platform would refuse is refused by ``validate``, before a replacement deletes the
    number it replaces."""

    name: str | None = Field(default=None, min_length=1)
    hostname: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    transport: Literal["tls", "udp", "tcp"] | None = None
    auth: SipAuth | None = Field(default=None, description="Write-only: never read back.")
    allowed_ips: list[str] | None = Field(
        default=None, description="IPv4 addresses or CIDR blocks."
    )

    @field_validator("hostname")
    @classmethod
    def _bare_hostname(cls, hostname: str) -> str:
        if any(ch in hostname for ch in HOSTNAME_REFUSED):
            raise PydanticCustomError(
                "platform_rule",
                "a hostname without a scheme or port (pstn.example.com; the port goes in port:)",
            )
        return hostname

    @field_validator("allowed_ips")
    @classmethod
    def _ipv4(cls, addresses: list[str] | None) -> list[str] | None:
        for index, text in enumerate(addresses or []):
            try:
                ipaddress.IPv4Network(text, strict=False)
            except ValueError:
                # The value is not quoted: an interpolated one is sensitive (docs/secrets.md).
                raise PydanticCustomError(
                    "platform_rule",
                    "entry {index} is not an IPv4 address or CIDR block (10.0.0.0/8)",
                    {"index": index},
                ) from None
        return addresses


class Inbound(_Strict):
    """Which saved agent answers the number's calls, and how (the Platform's rule: a
    ``call_policy`` is required when ``agent`` is set; its ``*_seconds`` and ``*_ms`` limits
    are positive integers)."""

    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        json_schema_extra={
            "if": {"required": ["agent"], "properties": {"agent": {"type": "object"}}},
            "then": {
                "required": ["call_policy"],
                "properties": {"call_policy": {"type": "object"}},
            },
        },
    )

    agent: SavedAgentRef | None = Field(
        description="{ref: SavedAgent/NAME}, or null to reject calls."
    )
    call_policy: dict[str, Any] | None = Field(
        default=None, description="Required when agent is set ({} takes the Platform's defaults)."
    )

    @field_validator("call_policy")
    @classmethod
    def _positive_limits(cls, policy: dict[str, Any] | None) -> dict[str, Any] | None:
        for key, value in (policy or {}).items():
            limit = key.endswith(("_seconds", "_ms"))
            whole = isinstance(value, int) and not isinstance(value, bool)
            if limit and (not whole or not 1 <= value <= MAX_INT64):
                raise PydanticCustomError(
                    "platform_rule",
                    "{key} must be a positive whole number (at most {most})",
                    {"key": key, "most": MAX_INT64},
                )
        return policy

    @model_validator(mode="after")
    def _policy_with_agent(self) -> Inbound:
        if self.agent is not None and self.call_policy is None:
            raise PydanticCustomError(
                "platform_rule",
                "call_policy is required when agent is set (the Platform refuses the number "
                "without one); write call_policy: {empty} for the Platform's defaults",
                {"empty": "{}"},
            )
        return self


class PhoneNumberSpec(_Strict):
    """The create-number body, 1:1."""

    number: str = Field(pattern=r"^\+[1-9][0-9]{1,14}$", description="E.164; immutable.")
    description: str | None = None
    sip_trunk: SipTrunk
    inbound: Inbound | None = None


class PhoneNumberManifest(_Strict):
    """A Platform phone number: its SIP trunk and which saved agent answers it."""

    kind: Literal["PhoneNumber"]
    name: str = Field(pattern=RESOURCE_NAME_PATTERN)
    spec: PhoneNumberSpec
    protect: bool = False


MANIFEST_MODELS: dict[str, type[BaseModel]] = {
    SECRET_SET: SecretSetManifest,
    SAVED_AGENT: SavedAgentManifest,
    PHONE_NUMBER: PhoneNumberManifest,
}
"""The manifest model of each Platform kind."""
