"""Layer 1: normalizing, redacting and diffing agent specs.

The plan never compares raw manifests with state: both sides are first normalized
(:func:`normalize_spec`) and redacted with the state's salt (:func:`redact`), then
:func:`field_changes` lists what differs; which differences a kind cannot apply in place is its
kind's rule (:mod:`reconciler.kinds`).
"""

from reconciler.diff.changes import RawChange, field_changes
from reconciler.diff.normalize import normalize_spec, normalize_spec_sharing
from reconciler.diff.redact import (
    SENSITIVE_MARKER,
    digest_value,
    is_redacted,
    redact,
    redact_copying,
    redact_in_place,
    settle_unknown,
    spec_digest,
    unknown_names,
)
from reconciler.diff.shown import outside_changes, redacted_like, shown_changes

__all__ = [
    "SENSITIVE_MARKER",
    "RawChange",
    "digest_value",
    "field_changes",
    "is_redacted",
    "normalize_spec",
    "normalize_spec_sharing",
    "outside_changes",
    "redact",
    "redact_copying",
    "redact_in_place",
    "redacted_like",
    "settle_unknown",
    "shown_changes",
    "spec_digest",
    "unknown_names",
]
