"""Saved plans (``plan --out FILE``, ``apply FILE``) and the checks that refuse stale ones.

A saved plan is the :class:`~reconciler.models.Plan` as JSON inside a small envelope. It holds
no secret: sensitive values exist in it only as salted digests inside ``desired_digest``. When
applied, the manifests are loaded again (secrets come from the environment then), and the plan
is refused if state moved on (lineage or serial) or if any agent's redacted spec, or the
manifests as a whole, no longer match what was planned.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import Location, Problem, StalePlanError, ValidationError
from reconciler.models import DesiredSet, Plan, StateDoc
from reconciler.plan import desired_view, manifests_digest

PLAN_KIND = "reconciler.plan"


def save_plan_file(plan: Plan, path: Path) -> None:
    """Write ``plan`` to ``path`` atomically."""
    envelope: dict[str, Any] = {"kind": PLAN_KIND, "plan": plan.model_dump(mode="json")}
    data = json.dumps(envelope, indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_plan_file(path: Path) -> Plan:
    """Read a saved plan; any problem is a located :class:`ValidationError`."""
    where = Location(str(path))
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(
            [Problem(where, f"cannot read plan file: {exc.strerror}")], "plan"
        ) from None
    except UnicodeDecodeError:
        raise ValidationError([Problem(where, "plan file is not UTF-8 text")], "plan") from None
    try:
        envelope = json.loads(raw)
    except json.JSONDecodeError as exc:
        loc = Location(str(path), exc.lineno)
        raise ValidationError(
            [Problem(loc, f"not a saved plan (invalid JSON: {exc.msg})")], "plan"
        ) from None
    except (RecursionError, ValueError):  # nested too deeply, or a number too long to read
        raise ValidationError(
            [Problem(where, "not a saved plan (invalid JSON: nested too deeply or too large)")],
            "plan",
        ) from None
    if not isinstance(envelope, dict) or envelope.get("kind") != PLAN_KIND:
        raise ValidationError(
            [Problem(where, "not a saved plan (write one with `reconciler plan --out FILE`)")],
            "plan",
        )
    try:
        return Plan.model_validate(envelope.get("plan"))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "plan"
        raise ValidationError(
            [Problem(where, f"saved plan is malformed at '{field}': {first['msg']}")], "plan"
        ) from None


def check_not_stale(plan: Plan, state: StateDoc, desired: DesiredSet) -> None:
    """Raise :class:`StalePlanError` saying what moved on since ``plan`` was made."""
    if plan.lineage != state.lineage:
        raise StalePlanError(
            f"stale plan: it was made for state lineage {plan.lineage}, "
            f"but the state is lineage {state.lineage}"
        )
    if plan.serial != state.serial:
        raise StalePlanError(
            f"stale plan: state has moved on since the plan was made "
            f"(serial {plan.serial} -> {state.serial}); plan again"
        )
    views = {name: desired_view(agent, state.salt) for name, agent in desired.agents.items()}
    changed: list[str] = []
    for agent in plan.agents:
        view = views.get(agent.name)
        if agent.action == "stop" and not plan.destroy:
            if view is not None:
                changed.append(f"{agent.name} (added back to the manifests)")
            continue
        if plan.destroy:
            continue
        if view is None:
            changed.append(f"{agent.name} (removed from the manifests)")
        elif view.digest != agent.desired_digest:
            changed.append(f"{agent.name} (manifest or a secret it references changed)")
    if changed:
        raise StalePlanError("stale plan: since it was made, " + "; ".join(changed))
    if not plan.destroy and manifests_digest(views.values()) != plan.manifests_digest:
        raise StalePlanError(
            "stale plan: the manifests changed since it was made (agents added or edited); "
            "plan again"
        )
