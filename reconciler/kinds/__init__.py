"""Layer 1: resource kinds, each described in one module, and what the plan needs of all of them.

A *kind* is a sort of thing the engine holds (``Agent``: a running agent of the v2 engine). Its
module says everything the core needs to know about it (:class:`~reconciler.kinds.base.KindRules`
and, for kinds planned and applied by the generic path, :class:`~reconciler.kinds.base.Kind`).
The :class:`~reconciler.kinds.registry.KindRegistry` maps a manifest's ``kind:`` to its module;
``plan``, ``apply`` and the renderers look kinds up there and never name one.
References between resources (``{ref: KIND/NAME}``, ``$secrets.<set>.<key>``) are found by
:mod:`~reconciler.kinds.references`, and :mod:`~reconciler.kinds.graph` orders a plan by them.
"""

from reconciler.kinds.agent import AGENT
from reconciler.kinds.base import Created, Held, Kind, KindRules
from reconciler.kinds.graph import closure, creation_order, deletion_order
from reconciler.kinds.live import read_resources
from reconciler.kinds.references import (
    KNOWN_AFTER_APPLY,
    find_references,
    is_known_after_apply,
    resolve_references,
)
from reconciler.kinds.registry import DEFAULT_KIND, KindRegistry, default_registry

__all__ = [
    "AGENT",
    "DEFAULT_KIND",
    "KNOWN_AFTER_APPLY",
    "Created",
    "Held",
    "Kind",
    "KindRegistry",
    "KindRules",
    "closure",
    "creation_order",
    "default_registry",
    "deletion_order",
    "find_references",
    "is_known_after_apply",
    "read_resources",
    "resolve_references",
]
