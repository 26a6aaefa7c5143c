"""What a plan needs to know besides its three inputs (:class:`PlanOptions`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.kinds import (
    KindRegistry,
    default_registry,
)
from reconciler.models.rollout import DEFAULT_MAX_UNAVAILABLE


@dataclass(frozen=True)
class PlanOptions:
    """What the plan needs to know besides its three inputs."""

    app_id: str = ""
    engine: str = ""
    platform: str = ""
    """The Platform, as the plan names it when it has resources (``Plan.platform``)."""
    environment: str = ""
    max_concurrent_agents: int = 20
    token_renewal_window_s: int = 7200
    rotate_before_cap_s: int = 7200
    """Restart agents that reach the 72 h runtime cap within this window (its own setting)."""
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    """``--exclude``: agents and resources (``KIND/NAME``) left out of the plan, with the
    resources that depend on them (the negation of ``targets``)."""
    replace: tuple[str, ...] = ()
    destroy: bool = False
    force: bool = False
    """``destroy --force``: protected agents are destroyed too."""
    warnings: tuple[str, ...] = field(default=())
    max_unavailable: int | str = DEFAULT_MAX_UNAVAILABLE
    """``max_unavailable`` from the settings; the plan carries it resolved to a count."""
    adopted: tuple[tuple[str, str], ...] = ()
    """``(name, agent_id)`` of agents the journal's evidence takes into state (an interrupted
    run started them): the state given is as if settled, and the plan shows each as ``adopt``."""
    kinds: KindRegistry = field(default_factory=default_registry)
    """The kinds the manifests may declare; resources of kinds other than ``Agent`` are planned
    by their kind's rules (:mod:`reconciler.kinds`)."""
