"""Which environment, App ID and engine a state belongs to, and the check every command makes.

A state describes agents of one App ID on one engine. Used with another (``AGORA_APP_ID``
changed, ``engine:`` switched), it would describe agents that are not there: apply would start
every agent again and orphan the running ones, and a plan without refresh would call the other
engine "unchanged". So a state records both (format version 2) when it is first written, and a
store opened with a :class:`StateBinding` refuses to read or write a state recorded for another
(:class:`~reconciler.errors.StateBindingError`, exit 1), naming both sides.

A project with environments (``reconciler.yaml`` ``environments:``) also records the name of the
environment (format version 3): a state of ``staging`` used by ``--env prod`` is refused the same
way, even when both environments share an App ID and an engine (a state per environment is what
keeps them apart). A project without environments has no name to check: its binding's
``environment`` is ``None``, and it neither checks nor changes what a state records.

A state without them (written before these rules, or before the project adopted environments)
is read as it is and takes the project's App ID, engine and environment at its next write, so
adding environments to a running project refuses nothing and restarts nothing. :func:`rebind`
is the deliberate way to move a state to another App ID, engine or environment
(``reconciler state rebind``); :func:`rebound` is what it records, which ``state push
--rebind`` also records in a state file it pushes into another environment's state.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import StateBindingError, printable
from reconciler.models.resources import PendingCreate, ResourceRecord
from reconciler.models.settings import Settings
from reconciler.models.state import STATE_VERSION, StateDoc

__all__ = ["Bindable", "StateBinding", "rebind", "rebound"]


@dataclass(frozen=True)
class StateBinding:
    """An environment, an App ID and an engine identity (never a credential).

    ``environment`` is ``None`` for a project without environments: not checked, not recorded.
    """

    app_id: str
    engine: str
    environment: str | None = None
    platform: str | None = None
    """The Platform's identity: every resource record names the Platform it lives on, and one
    naming another is refused (None: not checked, not recorded)."""

    @classmethod
    def of(cls, settings: Settings) -> StateBinding:
        """The environment, App ID, engine and Platform identity ``settings`` name."""
        return cls(
            app_id=settings.app_id,
            engine=settings.engine_identity,
            environment=settings.environment,
            platform=settings.platform_identity,
        )

    def describe(self) -> str:
        where = f"App ID {self.app_id} on engine {self.engine}"
        if self.environment is None:
            return where
        return f"environment {printable(self.environment)} ({where})"

    def _recorded(self, doc: StateDoc) -> StateBinding:
        """What ``doc`` records, a missing part read as this binding's (it takes it at its
        next write); the environment only where this binding has one to check."""
        return StateBinding(
            app_id=doc.app_id if doc.app_id is not None else self.app_id,
            engine=doc.engine if doc.engine is not None else self.engine,
            environment=(
                doc.environment
                if doc.environment is not None and self.environment is not None
                else self.environment
            ),
            platform=self.platform,
        )

    def _other_platform(self, doc: StateDoc) -> str | None:
        """The other Platform a resource record (or create entry) of ``doc`` names, if any."""
        if self.platform is None:
            return None
        records: list[ResourceRecord | PendingCreate] = [*doc.resources.values()]
        records.extend(doc.creating.values())
        for record in records:
            if record.platform is not None and record.platform != self.platform:
                return record.platform
        return None

    def check_pushed(self, doc: StateDoc, path: str) -> None:
        """Raise :class:`StateBindingError` if the state file ``path`` (``doc``, about to be
        pushed) records another environment, App ID, engine or Platform: named as the file,
        since the state it would replace is not the one that differs."""
        recorded = self._recorded(doc)
        other_platform = self._other_platform(doc)
        if recorded == self and other_platform is None:
            return
        if recorded == self:
            what = f"platform {printable(other_platform or '')}"
            now = f"platform {printable(self.platform or '')}"
        else:
            what, now = recorded.describe(), self.describe()
        raise StateBindingError(
            f"refusing to push {printable(path)}: the state file belongs to {what}, and this "
            f"project now uses {now}. Push it with the settings it belongs to, or, to move it "
            f"here on purpose, run `reconciler{self._env_option()} state push --rebind "
            f"{printable(shlex.quote(path))}` (it then records "
            "this project's environment, App ID and engine, and no longer belongs to its own)"
        )

    def _env_option(self) -> str:
        """`` --env NAME`` for a command of this binding's environment (empty without one)."""
        return "" if self.environment is None else f" --env {printable(self.environment)}"

    def check(self, doc: StateDoc, where: str) -> None:
        """Raise :class:`StateBindingError` if ``doc`` records another environment, App ID,
        engine or (in a resource's record) Platform."""
        recorded = self._recorded(doc)
        if recorded == self:
            self._check_platform(doc, where)
            return
        differs = [
            word
            for word, other in (
                ("environment", recorded.environment != self.environment),
                ("App ID", recorded.app_id != self.app_id),
                ("engine", recorded.engine != self.engine),
            )
            if other
        ]
        what = " and ".join(differs)
        if differs == ["environment"]:
            why = (
                f"each environment has a state of its own; with this one, a plan of "
                f"{printable(self.environment or '')} would be made against the agents of "
                f"{printable(recorded.environment or '')}"
            )
            back = (
                "Choose the state's environment (--env), or give this environment a state of "
                "its own (state: or state_key:)"
            )
        else:
            why = (
                f"another {what} would not hold the agents it records; apply would start them "
                "again there and leave these running"
            )
            back = "Point the settings back at the state's " + (
                "environment, App ID and engine" if recorded.environment else "App ID and engine"
            )
        raise StateBindingError(
            f"the state ({where}) belongs to {recorded.describe()}, and this project now uses "
            f"{self.describe()}: refusing to use it ({why}). {back}, or, to move the state on "
            "purpose, run `reconciler state rebind`"
        )

    def _check_platform(self, doc: StateDoc, where: str) -> None:
        other = self._other_platform(doc)
        if other is None:
            return
        raise StateBindingError(
            f"the state ({where}) records Platform resources of platform {printable(other)}, "
            f"and this project now uses platform {printable(self.platform or '')}: refusing to "
            "use it (another Platform does not hold the resources it records; apply would "
            "create them again there, leave these behind, and could write to resources of the "
            "same name that are not this project's). Point the settings (platform:, "
            "RECONCILER_PLATFORM) back at the state's Platform, or, to move the state on "
            "purpose, run `reconciler state rebind`"
        )

    def stamp(self, doc: StateDoc, where: str) -> StateDoc:
        """``doc`` checked, and carrying this App ID, engine, environment (if any), Platform
        (in every resource record and create entry) and the current format version."""
        self.check(doc, where)
        doc = self.stamp_platform(doc)
        environment = self.environment if self.environment is not None else doc.environment
        now = (doc.app_id, doc.engine, doc.environment, doc.version)
        if now == (self.app_id, self.engine, environment, STATE_VERSION):
            return doc
        return doc.model_copy(
            update={
                "app_id": self.app_id,
                "engine": self.engine,
                "environment": environment,
                "version": STATE_VERSION,
            }
        )

    def stamp_platform(self, doc: StateDoc, *, every: bool = False) -> StateDoc:
        """``doc`` with this Platform in each resource record and create entry that records
        none (``every``: in all of them); ``doc`` itself when none changes."""
        platform = self.platform
        if platform is None:
            return doc

        def needs(record: ResourceRecord | PendingCreate) -> bool:
            return record.platform != platform if every else record.platform is None

        update: dict[str, object] = {}
        for field, records in (("resources", doc.resources), ("creating", doc.creating)):
            if any(needs(r) for r in records.values()):
                update[field] = {
                    a: r.model_copy(update={"platform": platform}) if needs(r) else r
                    for a, r in records.items()
                }
        return doc.model_copy(update=update) if update else doc


class Bindable(Protocol):
    """A store that checks a binding (both backends' stores)."""

    binding: StateBinding | None

    @property
    def where(self) -> str: ...

    def load(self) -> StateDoc: ...

    def write(self, doc: StateDoc) -> StateDoc: ...


def rebind(store: Bindable, binding: StateBinding) -> tuple[StateDoc, StateDoc]:
    """Record ``binding`` in the state of ``store`` whatever it records now (the caller holds
    the lock): its App ID, engine and environment (a project without environments leaves the
    recorded environment as it is), and its Platform in every resource record. Returns the state
    before and after; agents and journal are left as they are."""
    kept = store.binding
    store.binding = None
    try:
        before = store.load()
    finally:
        store.binding = kept
    store.binding = binding
    try:
        after = store.write(rebound(before, binding))
    finally:
        store.binding = kept
    return before, after


def rebound(doc: StateDoc, binding: StateBinding) -> StateDoc:
    """``doc`` recording ``binding`` whatever it records now: its App ID, engine and
    environment (a binding without one leaves the recorded environment as it is), and its
    Platform in every resource record. Agents and journal are left as they are."""
    return binding.stamp_platform(doc, every=True).model_copy(
        update={
            "app_id": binding.app_id,
            "engine": binding.engine,
            "environment": (
                binding.environment if binding.environment is not None else doc.environment
            ),
            "version": STATE_VERSION,
        }
    )
