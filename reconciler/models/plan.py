"""The plan: a pure, frozen value shared by apply and every renderer.

``build_plan`` (``reconciler.plan``) makes it; ``reconciler.render`` shows it; ``reconciler.apply``
carries it out; ``plan --out`` saves it as JSON and ``apply FILE`` loads it back. It holds no
secret: sensitive values appear only as ``None`` with ``sensitive=True``, and as salted digest
markers (``{"$sensitive": "sha256:..."}``, as in state) in a new agent's ``create_spec`` and
inside ``desired_digest``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from reconciler.models.fieldpath import FieldPath
from reconciler.models.liveness import ExitCause
from reconciler.models.resources import ResourceAction, address

ActionKind = Literal[
    "start", "stop", "update", "restart", "renew-token", "rename", "forget", "adopt", "no-op"
]
Operation = Literal["apply", "destroy"]
"""The command that carries a plan out (:attr:`Plan.operation`)."""


class ReasonCode(str, Enum):
    """Why the plan does what it does to an agent, for machines (``reason`` says it in words).

    Every :class:`AgentPlan` carries exactly one; ``docs/plan-format.md`` lists what each means.
    """

    NEW = "new"
    REMOVED = "removed"
    DESTROY_REQUESTED = "destroy_requested"
    DESIRED_STOPPED = "desired_stopped"
    SPEC_CHANGED = "spec_changed"
    UPDATED_IN_PLACE = "updated_in_place"
    STATE_ONLY_CHANGE = "state_only_change"
    EXITED = "exited"
    EXITED_IDLE = "exited_idle"
    EXITED_RUNTIME_CAP = "exited_runtime_cap"
    EXITED_TOKEN_EXPIRED = "exited_token_expired"
    FAILED = "failed"
    RESTART_UNFINISHED = "restart_unfinished"
    MISSING = "missing"
    EXITED_EXPECTED = "exited_expected"
    TOKEN_EXPIRING = "token_expiring"
    ROTATION = "rotation"
    REPLACE_REQUESTED = "replace_requested"
    RENAMED = "renamed"
    FORGOTTEN = "forgotten"
    ADOPTED = "adopted"
    IMPORTED = "imported"
    UP_TO_DATE = "up_to_date"


EXIT_REASON_CODES: dict[ExitCause, ReasonCode] = {
    "missing": ReasonCode.MISSING,
    "failed": ReasonCode.FAILED,
    "idle-timeout": ReasonCode.EXITED_IDLE,
    "runtime-cap": ReasonCode.EXITED_RUNTIME_CAP,
    "token-expired": ReasonCode.EXITED_TOKEN_EXPIRED,
    "exited": ReasonCode.EXITED,
    "restart-unfinished": ReasonCode.RESTART_UNFINISHED,
}
"""The code of a start that brings back an agent that exited, by the cause of its exit."""

HEALING_CODES = frozenset(
    {
        *EXIT_REASON_CODES.values(),
        ReasonCode.ROTATION,
        ReasonCode.TOKEN_EXPIRING,
        ReasonCode.ADOPTED,
    }
)
"""The codes of actions that put back what the state already records: the start of a recorded
agent that exited or is missing, the restart before the runtime cap, a token renewal, the
adoption of an agent an interrupted run started. Such an action heals drift as long as no
field of the agent changed (``watch --heal-only`` applies only those)."""

STATE_ONLY_ACTIONS = frozenset({"rename", "forget", "adopt"})
"""Actions that edit the state only: no engine call (the agent keeps running, with its id).
An ``adopt`` is either the adoption of an interrupted run's agent (``adopted``) or a manifest's
``import:`` entry (``imported``)."""
PLAN_FORMAT_VERSION = 2
"""Version of the saved plan file (2 added ``reason_code`` and ``create_spec``)."""

TERRAFORM_ACTIONS: dict[str, tuple[str, ...]] = {
    "start": ("create",),
    "stop": ("delete",),
    "update": ("update",),
    "restart": ("delete", "create"),
    "renew-token": ("update",),
    "rename": ("move",),
    "forget": ("forget",),
    "adopt": ("import",),
    "no-op": ("no-op",),
}


class FieldChange(BaseModel):
    """One changed field: ``path`` in the spec, its old and new value.

    ``before``/``after`` are ``None`` when the field is absent on that side, and always ``None``
    when ``sensitive`` (then ``changed`` says whether the secret differs).
    """

    model_config = ConfigDict(frozen=True)

    path: FieldPath
    """Where the field is in the spec; written as its text (``properties.llm.params.model``)."""
    before: Any = None
    after: Any = None
    before_present: bool = True
    after_present: bool = True
    sensitive: bool = False
    forces_restart: bool = False
    unknown: tuple[str, ...] = ()
    """The variables, not set when planning, that make the new value unknown (a plan made
    without secrets); such a value is shown as unknown, never compared."""


class AgentPlan(BaseModel):
    """What the plan does to one agent, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    action: ActionKind
    reason: str
    """Why, in words (for people; the wording may change)."""
    reason_code: ReasonCode
    """Why, as a stable code (for machines and for every decision made on the plan)."""
    changes: tuple[FieldChange, ...] = ()
    """What differs from the recorded spec. Empty for a new agent: see ``create_spec``."""
    create_spec: dict[str, Any] | None = None
    """For a new agent (a start with nothing recorded): the normalized, redacted spec it is
    started with, secrets only as digest markers. Renderers list its attributes from it, as
    Terraform lists a resource it creates, instead of the plan carrying a change per attribute."""
    agent_id: str | None = None
    """The agent the engine runs now (for stop, update, restart, renew-token, no-op)."""
    channel: str | None = None
    generation: int = 0
    """Generation after the action: incremented for start and restart."""
    desired_digest: str | None = None
    """Digest of the redacted desired spec; apply refuses a saved plan if the manifests moved on."""
    path: str | None = None
    """Manifest file of the agent (None for a stop)."""
    renamed_from: str | None = None
    """For a rename: the name state records the agent under now."""

    @property
    def actions(self) -> tuple[str, ...]:
        return TERRAFORM_ACTIONS[self.action]

    @property
    def is_rotation(self) -> bool:
        """A restart ahead of the engine's 72 h runtime cap (nothing else changed)."""
        return self.reason_code == ReasonCode.ROTATION

    @property
    def restart_fields(self) -> tuple[str, ...]:
        return tuple(str(c.path) for c in self.changes if c.forces_restart)


class ResourcePlan(BaseModel):
    """What the plan does to one resource of a kind other than ``Agent``, and why."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    action: ResourceAction
    reason: str
    changes: tuple[FieldChange, ...] = ()
    """What differs from the recorded spec (an update or a replace)."""
    create_spec: dict[str, Any] | None = None
    """For a create: the redacted spec, references not yet known shown as known after apply."""
    id: str | None = None
    """The engine's id of the resource (None until it is created)."""
    depends_on: tuple[str, ...] = ()
    """Addresses this resource references: it is created and updated after them, deleted
    before them."""
    desired_digest: str | None = None
    path: str | None = None
    drift: tuple[FieldChange, ...] = ()
    """What was changed outside since the last apply (the engine's view against state's):
    ``before`` is what state recorded, ``after`` what the engine holds now."""
    live_version: str | None = None
    """The version the refresh read, sent as the precondition of an update or delete that
    overwrites drift this plan shows (reviewed); otherwise state's version is sent."""
    protect: bool = False
    reviewed_digest: str | None = None
    """What the manifests' digest covers of this resource's manifest when the plan was made
    (``None`` for a delete, and in plans saved before it was kept): a saved plan made stale by
    an edit of it names it."""
    create_before_delete: bool = False
    """For a replace: the new resource is created (and recorded) first, the old one, kept in
    state as a deposed object meanwhile, deleted after every create and update (its kind says
    the engine takes both at once); False: the old one is deleted first. A saved plan of before
    it has none: applied as it was reviewed, deleting first. Left out of a saved plan when
    False."""
    deposed: str | None = None
    """For a delete: the id of the deposed object it deletes (the old resource of a
    create-before-delete replacement that a run stopped before deleting), not the resource
    recorded at this address, which the plan keeps. Left out of a saved plan when None."""

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.create_before_delete:
            data.pop("create_before_delete", None)
        if self.deposed is None:
            data.pop("deposed", None)
        return data

    @property
    def address(self) -> str:
        return address(self.kind, self.name)

    @property
    def key(self) -> str:
        """What names this action among the plan's: its address, and for a deposed object's
        delete the object's id too (an address may have both)."""
        return f"{self.address}~{self.deposed}" if self.deposed else self.address


class PlanSummary(BaseModel):
    """Counts per action."""

    model_config = ConfigDict(frozen=True)

    start: int = 0
    update: int = 0
    restart: int = 0
    stop: int = 0
    renew_token: int = 0
    rename: int = 0
    forget: int = 0
    adopt: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return (
            self.start + self.update + self.restart + self.stop + self.renew_token + self.rename
            + self.forget + self.adopt
        )  # fmt: skip


class ResourceSummary(BaseModel):
    """Counts per action of the resources of kinds other than ``Agent``."""

    model_config = ConfigDict(frozen=True)

    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return self.create + self.update + self.replace + self.delete


class Plan(BaseModel):
    """The whole plan."""

    model_config = ConfigDict(frozen=True)

    format_version: int = PLAN_FORMAT_VERSION
    app_id: str = ""
    engine: str = ""
    """The engine the plan targets, as shown to a reviewer (``sandbox (local emulator)``, ...)."""
    environment: str = ""
    """The environment of ``reconciler.yaml`` the plan is for (empty: the project has none)."""
    platform: str = ""
    """The Conversational AI Platform the plan's resources are on, shown like ``engine``; set
    only when the plan has resources (left out of the saved plan otherwise)."""
    lineage: str
    serial: int
    manifests_digest: str
    created_at: float = Field(ge=0, lt=253402300800, allow_inf_nan=False)
    """Unix seconds (before the year 10000, so every renderer can show it as a date)."""
    refreshed: bool
    agents: tuple[AgentPlan, ...] = ()
    """Sorted by name."""
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    """Why this plan must not be applied (capacity overrun, ...); rendered, never applied."""
    unknown_variables: tuple[str, ...] = ()
    """Variables that were not set when planning (``plan --no-refresh`` without secrets): the
    plan is shown but can be neither saved nor applied."""
    targets: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    """Agents ``--exclude`` left out: neither planned nor touched."""
    max_concurrent_agents: int = 20
    running_after: int = 0
    """Agents that will be running once the plan is applied."""
    destroy: bool = False
    max_unavailable: int = Field(default=1, ge=1)
    """At most this many restarts are in progress at once (``max_unavailable`` in the settings,
    resolved to a count): a restart's agent is down from its stop until its new agent starts."""
    resources: tuple[ResourcePlan, ...] = ()
    """Resources of the kinds other than ``Agent``, in the order apply creates and updates them
    (what they reference first); deletes run in the reverse order. Left out of the saved plan
    when empty, so a plan of agents only is written as before."""

    @model_serializer(mode="wrap")
    def _omit_no_resources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.resources:
            data.pop("resources", None)
        if not self.platform:
            data.pop("platform", None)
        return data

    @property
    def summary(self) -> PlanSummary:
        counts = dict.fromkeys(TERRAFORM_ACTIONS, 0)
        for agent in self.agents:
            counts[agent.action] += 1
        return PlanSummary(
            start=counts["start"],
            update=counts["update"],
            restart=counts["restart"],
            stop=counts["stop"],
            renew_token=counts["renew-token"],
            rename=counts["rename"],
            forget=counts["forget"],
            adopt=counts["adopt"],
            unchanged=counts["no-op"],
        )

    @property
    def resource_summary(self) -> ResourceSummary:
        """Counts per action of :attr:`resources`."""
        counts = dict.fromkeys(("create", "update", "replace", "delete", "no-op"), 0)
        for resource in self.resources:
            counts[resource.action] += 1
        return ResourceSummary(
            create=counts["create"],
            update=counts["update"],
            replace=counts["replace"],
            delete=counts["delete"],
            unchanged=counts["no-op"],
        )

    @property
    def has_changes(self) -> bool:
        """Whether anything changes: an agent or a resource of another kind."""
        return self.summary.changes > 0 or self.resource_summary.changes > 0

    @property
    def operation(self) -> Operation:
        """The command that carries this plan out: ``destroy`` for a destroy plan, else
        ``apply``. Every message about the run (its summary, advice, errors) names it, so that
        an interrupted destroy never advises ``reconciler apply`` (which would start again the
        agents it just stopped)."""
        return "destroy" if self.destroy else "apply"

    def agent(self, name: str) -> AgentPlan | None:
        for agent in self.agents:
            if agent.name == name:
                return agent
        return None
