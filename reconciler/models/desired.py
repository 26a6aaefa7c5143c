"""The desired agents, as loaded from ``agents.d/`` (after extends, interpolation and validation).

A :class:`DesiredAgent` holds the *real* values (secrets included) because apply must send them
to the engine. It lives in memory only: nothing writes it out. What is written (state, saved
plans, output) is always the redacted form built by ``reconciler.diff.redact``, in which every
path listed in :attr:`DesiredAgent.sensitive` is replaced by a salted digest.

Paths into ``spec`` are :class:`~reconciler.models.fieldpath.FieldPath` values, written
``properties.llm.params.model`` for keys and ``properties.llm.system_messages[0].content`` for
list items; :attr:`DesiredAgent.lines` keys them by that text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reconciler.models.fieldpath import FieldPath
from reconciler.models.resources import DesiredResource

TokenMode = Literal["auto", "literal", "none"]
RestartPolicy = Literal["always", "on-failure", "never"]
"""A manifest's ``restart_policy``: which exits the next apply heals by starting the agent."""
OnDelete = Literal["stop", "forget"]
"""``lifecycle.on_delete``: stop the agent when its manifest is removed, or forget it."""


class DesiredAgent(BaseModel):
    """One agent as its manifest declares it."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The key of the agent across the project (``[a-z0-9][a-z0-9-]{0,47}``)."""
    path: str
    """Manifest file, relative to the project directory."""
    line: int = 0
    """1-based line where the agent's document starts."""
    spec: dict[str, Any]
    """What is diffed and sent: ``{"properties": {...}, "preset"?: str, "pipeline_id"?: str}``.
    With ``token: auto`` the token is absent here (it is minted at apply); with a literal token it
    is ``properties.token`` and sensitive."""
    token_mode: TokenMode = "none"
    protect: bool = False
    """``protect: true``: removing the manifest (or destroy without ``--force``) fails the plan."""
    restart_policy: RestartPolicy = "always"
    """Which exits the next apply heals (see :func:`reconciler.models.liveness.exit_expected`)."""
    desired: Literal["running", "stopped"] = "running"
    """``stopped``: the manifest is kept, the agent is stopped (or not started)."""
    renamed_from: str | None = None
    """The name state recorded the agent under before a rename (moved, not restarted)."""
    on_delete: OnDelete = "stop"
    """``lifecycle.on_delete``: what removing the manifest does (recorded in state)."""
    import_id: str | None = None
    """``import:``: the id of a running agent to take into state (planned as an import)."""
    import_line: int = 0
    """The source line of ``import:`` (for its validation errors)."""
    sensitive: frozenset[FieldPath] = Field(default_factory=frozenset)
    """Paths in ``spec`` whose values (whole subtrees) are secret, by the rule of
    :mod:`reconciler.models.secrets`."""
    secrets: frozenset[str] = Field(default_factory=frozenset)
    """Each value interpolated from the environment into a sensitive path: a secret of its own,
    also when it is only part of the value (``https://x.example/v1?key=${KEY}``,
    ``Bearer ${TOKEN}``), to be scrubbed from any text that could quote it."""
    lines: dict[str, int] = Field(default_factory=dict)
    """Source line of each path in ``spec`` where known (for error messages)."""
    unknown: dict[FieldPath, tuple[str, ...]] = Field(default_factory=dict)
    """Paths whose value is unknown because a variable is not set (only when loaded for
    ``validate`` or ``plan --no-refresh`` without secrets), with the variables' names. Such an
    agent can be shown, never applied."""

    @property
    def channel(self) -> str:
        props = self.spec.get("properties", {})
        value = props.get("channel", "") if isinstance(props, dict) else ""
        return str(value)

    @property
    def agent_rtc_uid(self) -> str:
        props = self.spec.get("properties", {})
        value = props.get("agent_rtc_uid", "0") if isinstance(props, dict) else "0"
        return str(value)

    @property
    def enable_rtm(self) -> bool:
        props = self.spec.get("properties", {})
        features = props.get("advanced_features") if isinstance(props, dict) else None
        return bool(isinstance(features, dict) and features.get("enable_rtm"))


class DesiredSet(BaseModel):
    """Every agent the manifests declare, keyed by name, in name order."""

    model_config = ConfigDict(frozen=True)

    agents: dict[str, DesiredAgent] = Field(default_factory=dict)
    files: tuple[str, ...] = ()
    """Manifest files read (relative paths, sorted), partials included."""
    resources: dict[str, DesiredResource] = Field(default_factory=dict)
    """Resources of the kinds other than ``Agent``, by address (``KIND/NAME``)."""
    unmanaged: tuple[str, ...] = ()
    """Addresses the resources may reference without declaring them (the settings'
    ``unmanaged``): made outside this project, never planned."""
