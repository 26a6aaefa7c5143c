"""Which App ID and engine a state belongs to, and the check every command makes against it.

A state describes agents of one App ID on one engine. Used with another (``AGORA_APP_ID``
changed, ``engine:`` switched), it would describe agents that are not there: apply would start
every agent again and orphan the running ones, and a plan without refresh would call the other
engine "unchanged". So a state records both (format version 2) when it is first written, and a
store opened with a :class:`StateBinding` refuses to read or write a state recorded for another
(:class:`~reconciler.errors.StateBindingError`, exit 1), naming both sides.

A state without them (format version 1, written before this rule) is read as it is and takes the
project's App ID and engine at its next write. :func:`rebind` is the deliberate way to move a
state to another App ID or engine (``reconciler state rebind``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reconciler.errors import StateBindingError
from reconciler.models.settings import Settings
from reconciler.models.state import STATE_VERSION, StateDoc

__all__ = ["Bindable", "StateBinding", "rebind"]


@dataclass(frozen=True)
class StateBinding:
    """An App ID and an engine identity (never a credential)."""

    app_id: str
    engine: str

    @classmethod
    def of(cls, settings: Settings) -> StateBinding:
        """The App ID and engine identity ``settings`` name."""
        return cls(app_id=settings.app_id, engine=settings.engine_identity)

    def describe(self) -> str:
        return f"App ID {self.app_id} on engine {self.engine}"

    def check(self, doc: StateDoc, where: str) -> None:
        """Raise :class:`StateBindingError` if ``doc`` records another App ID or engine."""
        app_id = doc.app_id if doc.app_id is not None else self.app_id
        engine = doc.engine if doc.engine is not None else self.engine
        if (app_id, engine) == (self.app_id, self.engine):
            return
        recorded = StateBinding(app_id, engine)
        what = " and ".join(
            word
            for word, differs in (
                ("App ID", app_id != self.app_id),
                ("engine", engine != self.engine),
            )
            if differs
        )
        raise StateBindingError(
            f"the state ({where}) belongs to {recorded.describe()}, and this project now uses "
            f"{self.describe()}: refusing to use it (another {what} would not hold the agents "
            "it records; apply would start them again there and leave these running). Point "
            "the settings back at the state's App ID and engine, or, to move the state on "
            "purpose, run `reconciler state rebind`"
        )

    def stamp(self, doc: StateDoc, where: str) -> StateDoc:
        """``doc`` checked, and carrying this App ID, engine and the current format version."""
        self.check(doc, where)
        if (doc.app_id, doc.engine, doc.version) == (self.app_id, self.engine, STATE_VERSION):
            return doc
        return doc.model_copy(
            update={"app_id": self.app_id, "engine": self.engine, "version": STATE_VERSION}
        )


class Bindable(Protocol):
    """A store that checks a binding (both backends' stores)."""

    binding: StateBinding | None

    @property
    def where(self) -> str: ...

    def load(self) -> StateDoc: ...

    def write(self, doc: StateDoc) -> StateDoc: ...


def rebind(store: Bindable, binding: StateBinding) -> tuple[StateDoc, StateDoc]:
    """Record ``binding`` in the state of ``store`` whatever it records now (the caller holds
    the lock). Returns the state before and after; agents and journal are left as they are."""
    kept = store.binding
    store.binding = None
    try:
        before = store.load()
    finally:
        store.binding = kept
    store.binding = binding
    try:
        after = store.write(
            before.model_copy(
                update={
                    "app_id": binding.app_id,
                    "engine": binding.engine,
                    "version": STATE_VERSION,
                }
            )
        )
    finally:
        store.binding = kept
    return before, after
