"""Plans built directly (no IO) for the renderer tests."""

from __future__ import annotations

from reconciler.models import AgentPlan, FieldChange, Plan
from reconciler.models.plan import ReasonCode

LINEAGE = "3f0c8a8e-5d1b-4c1e-9a57-0d9b1f6f2c11"
DIGEST = "sha256:" + "ab" * 32
CREATED_AT = 1_735_689_600.0  # 2025-01-01T00:00:00Z

OLD_PROMPT = "You are the support agent for Acme.\nBe terse.\nNever promise refunds.\n"
NEW_PROMPT = "You are the support agent for Acme.\nBe warm and helpful.\nNever promise refunds.\n"


def make_plan(
    *agents: AgentPlan,
    refreshed: bool = True,
    warnings: tuple[str, ...] = (),
    app_id: str = "0123456789abcdef0123456789abcdef",
) -> Plan:
    """A plan holding ``agents`` (sorted by name, as build_plan sorts them)."""
    return Plan(
        app_id=app_id,
        lineage=LINEAGE,
        serial=7,
        manifests_digest=DIGEST,
        created_at=CREATED_AT,
        refreshed=refreshed,
        agents=tuple(sorted(agents, key=lambda a: a.name)),
        warnings=warnings,
        running_after=sum(1 for a in agents if a.action != "stop"),
    )


def start(name: str = "support-en") -> AgentPlan:
    return AgentPlan(
        name=name,
        action="start",
        reason="new agent",
        reason_code=ReasonCode.NEW,
        channel=name,
        generation=1,
    )


def stop(name: str = "legacy-fr") -> AgentPlan:
    return AgentPlan(
        name=name,
        action="stop",
        reason="removed from the manifests",
        reason_code=ReasonCode.REMOVED,
        agent_id="AGENTSTOP01",
        channel=name,
    )


def update(name: str = "sales-de") -> AgentPlan:
    return AgentPlan(
        name=name,
        action="update",
        reason="in-place update of properties.llm.params.model, "
        "properties.llm.system_messages[0].content, properties.llm.api_key",
        reason_code=ReasonCode.UPDATED_IN_PLACE,
        agent_id="AGENTUPD01",
        channel=name,
        changes=(
            FieldChange(path="properties.llm.api_key", sensitive=True),
            FieldChange(path="properties.llm.params.model", before="gpt-4o-mini", after="gpt-4o"),
            FieldChange(
                path="properties.llm.system_messages[0].content",
                before=OLD_PROMPT,
                after=NEW_PROMPT,
            ),
        ),
    )


def restart(name: str = "billing") -> AgentPlan:
    return AgentPlan(
        name=name,
        action="restart",
        reason="changes force a restart: properties.asr.language",
        reason_code=ReasonCode.SPEC_CHANGED,
        agent_id="AGENTRST01",
        channel=name,
        generation=3,
        changes=(
            FieldChange(
                path="properties.asr.language",
                before="en-US",
                after="de-DE",
                forces_restart=True,
            ),
            FieldChange(
                path="properties.llm.params.temperature",
                before_present=False,
                after=0.2,
            ),
        ),
    )


def renew(name: str = "night-shift") -> AgentPlan:
    return AgentPlan(
        name=name,
        action="renew-token",
        reason="token expires in 1h12m (renewal window 2h00m)",
        reason_code=ReasonCode.TOKEN_EXPIRING,
        agent_id="AGENTTOK01",
        channel=name,
    )


def noop(name: str = "kiosk") -> AgentPlan:
    return AgentPlan(
        name=name,
        action="no-op",
        reason="up to date",
        reason_code=ReasonCode.UP_TO_DATE,
        agent_id="AGENTNOP01",
        channel=name,
    )


def one_of_each() -> Plan:
    """A plan with one agent per action."""
    return make_plan(start(), stop(), update(), restart(), renew(), noop())
