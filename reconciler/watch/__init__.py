"""Layer 4: ``reconciler watch``, a controller that reconciles on an interval and self-heals.

:class:`~reconciler.watch.controller.Watcher` re-reads the manifests and settings, plans and
applies through :class:`~reconciler.project.Project` (the same rules as ``apply``), under a
lease (:mod:`reconciler.watch.lease`) so one replica acts at a time; ``--heal-only`` keeps only
the actions that heal drift (:mod:`reconciler.watch.heal`). Its state is published through an
HTTP endpoint (:mod:`reconciler.watch.endpoint`) with Prometheus metrics
(:mod:`reconciler.watch.metrics`, ``prometheus-client`` imported only there).
"""

from __future__ import annotations

from reconciler.watch.heal import heal_only
from reconciler.watch.interval import parse_duration, parse_listen

__all__ = ["heal_only", "parse_duration", "parse_listen"]
