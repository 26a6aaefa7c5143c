"""Saved plans (``plan --out FILE``, ``apply FILE``): the file format, its digest and version.

A saved plan is the :class:`~reconciler.models.Plan` as JSON inside a small envelope::

    {"kind": "reconciler.plan", "digest": "sha256:...", "plan": {...}, "new_state": {...}}

- ``plan.format_version`` is the version of the file; a file of any other version is refused.
- ``digest`` is the SHA-256 of the canonical JSON (sorted keys, no whitespace) of the envelope
  without it, so a file edited (or damaged) after it was saved is refused. A digest cannot stop
  someone who recomputes it: what protects agents is that apply checks every action against the
  state (:mod:`reconciler.project.planchecks`).
- ``new_state`` is present only when no state was recorded yet: it holds the salt the plan's
  digests were made with, and apply creates the state with that salt and the plan's lineage.
  Planning never writes state, so this is how a first plan stays applicable.

The file holds no secret: sensitive values exist in it only as salted digests (as in state).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from reconciler.errors import Location, PlanError, Problem, ValidationError
from reconciler.models import Plan, StateDoc
from reconciler.models.plan import PLAN_FORMAT_VERSION, ReasonCode
from reconciler.safefile import read_regular

PLAN_KIND = "reconciler.plan"
MAX_PLAN_BYTES = 512 << 20
"""The largest saved plan read: it holds the state it leads to (a local state file is read up to
256 MiB) and the plan. Only a regular file is read (never a FIFO or a device)."""
_KEYS = frozenset({"kind", "digest", "plan", "new_state"})


@dataclass(frozen=True)
class SavedPlan:
    """A plan read back from its file, checked for version and digest."""

    plan: Plan
    path: Path
    fresh_state: StateDoc | None = None
    """The (empty) state the plan was made for, when none was recorded then."""


def plan_digest(envelope: dict[str, Any]) -> str:
    """The content digest of an envelope (its ``digest`` key left out)."""
    body = {k: v for k, v in envelope.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def save_plan_file(plan: Plan, path: Path, *, fresh_state: StateDoc | None = None) -> None:
    """Write ``plan`` to ``path`` atomically; ``fresh_state``: the unrecorded state it used.

    Refused (:class:`PlanError`) for a plan made without refreshing that imports an agent: its
    ``import:`` entries were not checked on the engine."""
    unchecked = [a.name for a in plan.agents if a.reason_code == ReasonCode.IMPORTED]
    if unchecked and not plan.refreshed:
        raise PlanError(
            f"cannot save the plan: the import of {', '.join(unchecked)} was not checked on the "
            "engine (a plan made without refreshing); plan with refresh to save it"
        )
    envelope: dict[str, Any] = {"kind": PLAN_KIND, "plan": plan.model_dump(mode="json")}
    if fresh_state is not None:
        envelope["new_state"] = {"salt": fresh_state.salt}
    # Through JSON and back, so the digest is of exactly what a reader will parse.
    envelope = json.loads(json.dumps(envelope))
    envelope["digest"] = plan_digest(envelope)
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


def load_plan_file(path: Path) -> SavedPlan:
    """Read a saved plan; any problem is a :class:`ValidationError` naming the file."""

    def refuse(message: str, line: int = 0) -> ValidationError:
        return _refusal(path, message, line)

    try:
        raw = read_regular(path, MAX_PLAN_BYTES)[0].decode("utf-8")
    except OSError as exc:
        raise refuse(f"cannot read plan file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise refuse("plan file is not UTF-8 text") from None
    try:
        envelope = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise refuse(f"not a saved plan (invalid JSON: {exc.msg})", exc.lineno) from None
    except (RecursionError, ValueError):  # nested too deeply, or a number too long to read
        raise refuse("not a saved plan (invalid JSON: nested too deeply or too large)") from None
    if not isinstance(envelope, dict) or envelope.get("kind") != PLAN_KIND:
        raise refuse("not a saved plan (write one with `reconciler plan --out FILE`)")
    _check_version(envelope, path)
    unknown = sorted(set(envelope) - _KEYS)
    if unknown:
        raise refuse(f"saved plan has unknown key '{unknown[0]}'")
    digest = envelope.get("digest")
    if not isinstance(digest, str):
        raise refuse("saved plan has no content digest; make the plan again")
    try:
        expected = plan_digest(envelope)
    except (RecursionError, ValueError):
        raise refuse("saved plan is malformed (nested too deeply)") from None
    if digest != expected:
        raise refuse(
            "saved plan was changed after it was saved (its content digest does not match); "
            "refusing to apply it: make the plan again"
        )
    try:
        plan = Plan.model_validate(envelope["plan"])
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "plan"
        raise refuse(f"saved plan is malformed at '{field}': {first['msg']}") from None
    fresh = _fresh_state(envelope.get("new_state"), plan, path)
    return SavedPlan(plan=plan, path=path, fresh_state=fresh)


def _refusal(path: Path, message: str, line: int = 0) -> ValidationError:
    return ValidationError([Problem(Location(str(path), line), message)], "plan")


def _check_version(envelope: dict[str, Any], path: Path) -> None:
    body = envelope.get("plan")
    if not isinstance(body, dict):
        raise _refusal(path, "saved plan is malformed at 'plan': not an object")
    version = body.get("format_version")
    if version is None:
        raise _refusal(path, "saved plan has no format_version; make the plan again")
    if type(version) is not int or version != PLAN_FORMAT_VERSION:
        shown = (
            json.dumps(version)[:40] if isinstance(version, (int, str, float)) else "(not a number)"
        )
        raise _refusal(
            path,
            f"saved plan has format_version {shown}, which this reconciler does not read "
            f"(it reads version {PLAN_FORMAT_VERSION}); make the plan again with this version",
        )


def _fresh_state(value: Any, plan: Plan, path: Path) -> StateDoc | None:
    if value is None:
        return None
    salt = value.get("salt") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or set(value) != {"salt"}
        or not isinstance(salt, str)
        or not salt
    ):
        raise _refusal(path, 'saved plan is malformed at \'new_state\': expected {"salt": "..."}')
    if plan.serial != 0:
        raise _refusal(
            path, "saved plan is malformed at 'new_state': the plan names a recorded state"
        )
    return StateDoc(lineage=plan.lineage, serial=0, salt=salt)
