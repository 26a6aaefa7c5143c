"""Golden plan scenarios as data: ``tests/cases/<name>/``.

A case directory holds:

- ``case.yaml``: ``description``; ``env`` (environment for the desired manifests) and
  ``env_before`` (for the recorded ones, default ``env``); ``refresh`` (default true);
  ``targets``, ``replace``, ``destroy``, ``force``, ``max_unavailable``; ``records`` (per
  recorded agent: ``agent_id``, ``generation``, ``started_ago_s``, ``token_expires_in_s``);
  ``live`` (agent_id -> ``{status, message}``; recorded agents not named are RUNNING; unknown
  ids are unmanaged agents); ``secrets`` (values that must appear in no output);
  ``unapplicable`` (the plan has errors, so convergence does not apply it); ``left_down``
  (agents the restart policy leaves stopped after convergence); ``left_running`` (forgotten
  agents still running after it); ``running_as`` (new name -> the wire name's base, for
  renames).
- ``before/``: the manifests as they were last applied (becomes the recorded state).
- ``agents.d/``: the manifests now.
- ``expected.txt`` / ``expected.json`` (or ``expected_error.txt``).

``UPDATE_GOLDEN=1 pytest tests/test_golden_plans.py`` rewrites the expected files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.manifests import load_desired
from reconciler.models import AgentRecord, DesiredSet, LiveAgent, LiveStatus, Settings, StateDoc
from reconciler.models.rollout import DEFAULT_MAX_UNAVAILABLE
from reconciler.plan import PlanOptions, desired_view

CASES_DIR = Path(__file__).parent / "cases"
NOW = 1_790_000_000.0
SALT = "golden-salt-0123456789abcdef"
LINEAGE = "00000000-0000-4000-8000-000000000001"
APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"


@dataclass
class Case:
    name: str
    path: Path
    meta: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    env_before: dict[str, str] = field(default_factory=dict)

    @property
    def refresh(self) -> bool:
        return bool(self.meta.get("refresh", True))

    @property
    def secrets(self) -> list[str]:
        return [str(s) for s in self.meta.get("secrets", [])]

    def options(self) -> PlanOptions:
        return PlanOptions(
            app_id=APP_ID,
            engine="sandbox (local emulator)",
            max_concurrent_agents=int(self.meta.get("max_concurrent_agents", 20)),
            token_renewal_window_s=7200,
            targets=tuple(self.meta.get("targets", [])),
            replace=tuple(self.meta.get("replace", [])),
            destroy=bool(self.meta.get("destroy", False)),
            force=bool(self.meta.get("force", False)),
            max_unavailable=self.meta.get("max_unavailable", DEFAULT_MAX_UNAVAILABLE),
        )


def all_cases() -> list[Case]:
    out = []
    for path in sorted(p for p in CASES_DIR.iterdir() if (p / "case.yaml").exists()):
        meta = yaml.safe_load((path / "case.yaml").read_text()) or {}
        env = {str(k): str(v) for k, v in (meta.get("env") or {}).items()}
        before = {str(k): str(v) for k, v in (meta.get("env_before") or env).items()}
        out.append(Case(path.name, path, meta, env, before))
    return out


def settings_for(project_dir: Path, agents_dir: str = "agents.d") -> Settings:
    from pydantic import SecretStr

    return Settings(
        project_dir=project_dir,
        app_id=APP_ID,
        agents_dir=agents_dir,
        app_certificate=SecretStr(CERT),
        customer_id=SecretStr("sandbox"),
        customer_secret=SecretStr("sandbox"),
    )


def desired_for(case: Case) -> DesiredSet:
    if not (case.path / "agents.d").exists():
        return DesiredSet()
    return load_desired(settings_for(case.path), case.env)


def recorded_for(case: Case) -> StateDoc:
    agents: dict[str, AgentRecord] = {}
    if (case.path / "before").exists():
        before = load_desired(settings_for(case.path, "before"), case.env_before)
        records = case.meta.get("records") or {}
        for index, (name, agent) in enumerate(sorted(before.agents.items()), start=1):
            info = records.get(name) or {}
            view = desired_view(agent, SALT)
            generation = int(info.get("generation", 1))
            agents[name] = AgentRecord(
                name=name,
                agent_id=str(info.get("agent_id", f"AGENT{index:04d}{name.upper()}"[:32])),
                wire_name=f"{name}-{generation}",
                generation=generation,
                channel=agent.channel,
                started_at=NOW - float(info.get("started_ago_s", 3600)),
                token_mode=agent.token_mode,
                token_expires_at=(
                    NOW + float(info.get("token_expires_in_s", 20 * 3600))
                    if agent.token_mode == "auto"
                    else None
                ),
                spec=view.spec,
                spec_digest=view.digest,
                protect=agent.protect,
                on_delete=agent.on_delete,
            )
    return StateDoc(lineage=LINEAGE, serial=7, salt=SALT, agents=agents)


def live_for(case: Case, state: StateDoc) -> LiveStatus:
    if not case.refresh:
        return LiveStatus()
    live: dict[str, LiveAgent] = {
        r.agent_id: LiveAgent(agent_id=r.agent_id, status="RUNNING", start_ts=int(r.started_at))
        for r in state.agents.values()
    }
    for agent_id, info in (case.meta.get("live") or {}).items():
        info = info or {}
        if info.get("status") == "GONE":
            live.pop(str(agent_id), None)
            continue
        live[str(agent_id)] = LiveAgent(
            agent_id=str(agent_id),
            status=str(info.get("status", "RUNNING")),
            message=info.get("message"),
            channel=info.get("channel"),
        )
    return LiveStatus(refreshed=True, agents=live, fetched_at=NOW)
