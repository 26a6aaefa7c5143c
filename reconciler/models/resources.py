"""Resources of any kind: what a manifest declares, what state records, what the plan does.

The v2 running agent (``kind: Agent``) keeps its own, richer models (:class:`DesiredAgent`,
:class:`AgentRecord`, :class:`AgentPlan`), which the golden outputs are made of. Every other kind
is carried by the three kind-agnostic models here, which name a resource by its *address*
``KIND/NAME`` (``SecretSet/llm_keys``) and leave what its spec means to its kind's module
(:mod:`reconciler.kinds`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from reconciler.models.fieldpath import FieldPath

ResourceAction = Literal["create", "update", "replace", "delete", "no-op"]
"""What the plan does to a resource: ``replace`` deletes it and creates it again (a change of a
field its kind cannot change in place), or creates the new one first and then deletes the old
one (:attr:`~reconciler.models.plan.ResourcePlan.create_before_delete`)."""


def address(kind: str, name: str) -> str:
    """The address of a resource: ``KIND/NAME``, the form ``{ref: ...}`` and ``--target`` use."""
    return f"{kind}/{name}"


class DesiredResource(BaseModel):
    """One resource as its manifest declares it (real values: in memory only, like an agent)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    """The manifest's ``kind:`` (a key of the kind registry)."""
    name: str
    path: str = ""
    """Manifest file, relative to the project directory."""
    line: int = 0
    spec: dict[str, Any]
    """What is diffed and sent, references (``{ref: KIND/NAME}``) still unresolved."""
    sensitive: frozenset[FieldPath] = Field(default_factory=frozenset)
    """Paths in ``spec`` whose values are secret (recorded and shown only as digests)."""
    secrets: frozenset[str] = Field(default_factory=frozenset)
    """Each value interpolated into a sensitive path (scrubbed from every text)."""
    protect: bool = False
    """Never deleted (nor replaced) unless ``destroy --force``."""
    unknown: dict[FieldPath, tuple[str, ...]] = Field(default_factory=dict)
    """With unset variables allowed (``plan --no-refresh``): paths whose value is unknown and
    the variables not set."""
    lines: dict[str, int] = Field(default_factory=dict)
    """Source line (in :attr:`path`) of each path in ``spec`` written there, by path text (for
    the messages of checks across manifests, such as a reference to an undeclared resource)."""

    @property
    def address(self) -> str:
        return address(self.kind, self.name)


class PendingUpdate(BaseModel):
    """An update sent (or about to be) whose answer state does not know yet: the write-ahead
    entry of a recorded resource's update, held by its record (:attr:`ResourceRecord.updating`).

    Written before the call and replaced by the new record when the answer lands. An entry left
    by a run that died (or lost the answer) is settled by the next plan or apply
    (:mod:`reconciler.apply.updates`) from the resource as the engine holds it: its version is
    still ``base_version`` (the update never took effect: forgotten), or it moved and what the
    engine shows is ``spec`` (it took effect: recorded), or it moved and the engine shows
    something else (changed outside: the plan shows the drift for review)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    base_version: str | None
    """The version the update sends as its precondition (``If-Match``): the one state recorded,
    or the one the plan read when it showed drift."""
    started_at: FiniteFloat
    """Written before the call."""
    spec: dict[str, Any]
    """The redacted spec the update brings the resource to (references resolved): what the
    record holds once it took effect."""
    spec_digest: str
    """Digest of :attr:`spec`: what was sent, as the engine should show it."""
    references: list[str] = Field(default_factory=list)
    protect: bool = False


class ResourceRecord(BaseModel):
    """One resource the tool created: the id the engine gave it and the spec it was given."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str
    name: str
    id: str = Field(min_length=1)
    """What the engine calls it (the id its create answered with). A URL path segment of every
    call about it: never empty, ``.`` or ``..`` (those name its collection or the collection's
    parent)."""
    version: str | None = None
    """The engine's version of it (an ``ETag``) as last answered, when the engine has them."""
    spec: dict[str, Any]
    """Redacted spec as applied, references resolved to the ids they named."""
    spec_digest: str
    created_at: FiniteFloat
    references: list[str] = Field(default_factory=list)
    """The addresses its spec referenced when applied: it is deleted before them."""
    protect: bool = False
    """Its manifest said ``protect: true`` when it was applied (kept after the manifest is
    removed, so a removed protected resource is not deleted either)."""
    updating: PendingUpdate | None = None
    """The write-ahead entry of an update in flight (or interrupted); left out of the document
    when None, so a record without one is written byte for byte as before. It lives in the
    record, which every state backend stores whole, so no backend needs a new key or table."""
    platform: str | None = Field(default=None, min_length=1)
    """The identity of the Platform the resource lives on
    (:attr:`~reconciler.models.settings.Settings.platform_identity`), stamped by the state's
    binding at its write (:mod:`reconciler.state.binding`); None in a record written before it
    was recorded (left out of the document, so such a record is written as before)."""
    deposed: list[ResourceRecord] = Field(default_factory=list)
    """The old resources of a create-before-delete replacement (Terraform's *deposed*
    objects) that are not deleted yet: the replacement created this one and recorded it with
    the old one here, in one write, then deletes the old one and drops it from here. A run
    killed between the two leaves it: the next plan deletes it (docs/architecture.md, "Create
    before delete"). Left out of the document when empty, so a record is written as before;
    it lives in the record, which every state backend stores whole."""

    @field_validator("id")
    @classmethod
    def _id_is_one_path_segment(cls, value: str) -> str:
        if value in (".", ".."):
            raise ValueError(f"{value!r} is not an id (a dot segment of a URL path)")
        return value

    @model_validator(mode="after")
    def _deposed_are_old_copies(self) -> ResourceRecord:
        for old in self.deposed:
            if (old.kind, old.name) != (self.kind, self.name):
                raise ValueError(f"a deposed resource of {self.address} is {old.address}")
            if old.deposed:
                raise ValueError(f"a deposed resource of {self.address} holds deposed ones")
            if old.id == self.id:
                raise ValueError(f"a deposed resource of {self.address} has its id {self.id}")
        return self

    @model_serializer(mode="wrap")
    def _omit_no_update(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.updating is None:
            data.pop("updating", None)
        if self.platform is None:
            data.pop("platform", None)
        if not self.deposed:
            data.pop("deposed", None)
        return data

    @property
    def address(self) -> str:
        return address(self.kind, self.name)


class PendingCreate(BaseModel):
    """A create sent (or about to be) whose outcome state does not know yet: the write-ahead
    entry of a resource. The Platform has no idempotency key for creates, so an entry left by a
    run that died (or lost the answer) is settled by looking for the resource with evidence
    (see docs/architecture.md, "Evidence"): adopted, forgotten, or kept when unclear."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str
    name: str
    marker: str
    """Unique to this create (the state's lineage, the address and a nonce): the kinds whose
    body can carry it send it, and look for it."""
    started_at: FiniteFloat
    """Written before the call: the resource, if created, was created after it."""
    spec: dict[str, Any]
    """The redacted spec sent (references resolved): what the record will hold."""
    spec_digest: str
    references: list[str] = Field(default_factory=list)
    protect: bool = False
    platform: str | None = Field(default=None, min_length=1)
    """The Platform the create was sent to, as :attr:`ResourceRecord.platform`."""
    replacing: str | None = Field(default=None, min_length=1)
    """The id of the recorded resource this create replaces, created before it is deleted
    (a create-before-delete replacement): when the create is settled as taken effect, that
    record becomes the new one's deposed object (never overwritten: never an orphan). Left
    out of the document when None."""

    @model_serializer(mode="wrap")
    def _omit_no_platform(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.platform is None:
            data.pop("platform", None)
        if self.replacing is None:
            data.pop("replacing", None)
        return data

    @property
    def address(self) -> str:
        return address(self.kind, self.name)
