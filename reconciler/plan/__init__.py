"""Layer 2: ``build_plan``, the pure heart of the tool.

``build_plan(desired, state, live, now=..., options=...)`` compares what the manifests declare
with what the state records and what the engine reports, and returns a frozen
:class:`~reconciler.models.Plan`. No IO, no clock (``now`` is passed in), deterministic order:
the same inputs always give the same plan. The plan holds no secret: both sides are redacted
with the state's salt before they are compared.

One module a concern: :mod:`.build` puts the plan together from :mod:`.agents` (the v2 engine's
running agents), :mod:`.imports` (their ``import:`` entries) and :mod:`.resources` (every other
kind, in the order of the reference graph); :mod:`.views` is how a desired agent is compared
and digested, :mod:`.options` what a plan is asked for.
"""

from reconciler.plan.build import build_plan, build_plan_with_views
from reconciler.plan.options import PlanOptions
from reconciler.plan.resources import resource_view, reviewed_resource_digest
from reconciler.plan.state_fields import STATE_FIELDS
from reconciler.plan.views import (
    DesiredView,
    desired_view,
    digest_of_digests,
    manifests_digest,
    reviewed_digest,
)

__all__ = [
    "STATE_FIELDS",
    "DesiredView",
    "PlanOptions",
    "build_plan",
    "build_plan_with_views",
    "desired_view",
    "digest_of_digests",
    "manifests_digest",
    "resource_view",
    "reviewed_digest",
    "reviewed_resource_digest",
]
