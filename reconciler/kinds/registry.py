"""The kind registry: a manifest's ``kind:`` -> the module that describes that kind.

``plan``, the executor and the renderers look a kind up here, so a new kind is one module plus
one registration (:meth:`KindRegistry.with_kind`), with no edit in any of them. ``Agent`` (the v2
running agent) is in every registry and is what a manifest without ``kind:`` declares.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import cast

from reconciler.errors import PlanError
from reconciler.kinds.agent import AGENT
from reconciler.kinds.base import Kind, KindRules

DEFAULT_KIND = AGENT.name
"""What a manifest without a ``kind:`` line declares."""


@dataclass(frozen=True)
class KindRegistry:
    """The kinds a project knows, by name. Immutable: :meth:`with_kind` makes a new one."""

    kinds: Mapping[str, KindRules] = field(default_factory=lambda: {AGENT.name: AGENT})

    def with_kind(self, kind: Kind) -> KindRegistry:
        """This registry and ``kind`` (which replaces a kind of the same name)."""
        return KindRegistry({**self.kinds, kind.name: kind})

    def rules(self, name: str) -> KindRules:
        """The rules of kind ``name``; :class:`PlanError` for a kind nobody registered."""
        found = self.kinds.get(name)
        if found is None:
            known = ", ".join(sorted(self.kinds))
            raise PlanError(f"unknown kind {name!r} (known kinds: {known})")
        return found

    def kind(self, name: str) -> Kind:
        """Kind ``name``, which must be carried by the generic plan and executor (every kind
        but ``Agent``, whose plan and apply are its own)."""
        found = self.rules(name)
        if name == DEFAULT_KIND:
            raise PlanError(f"kind {name} is planned by its own rules, not as a resource")
        return cast(Kind, found)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.kinds))


def default_registry() -> KindRegistry:
    """The kinds every project knows: ``Agent``."""
    return KindRegistry()
