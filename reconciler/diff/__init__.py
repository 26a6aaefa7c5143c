"""Layer 1: normalizing, redacting and diffing agent specs.

The plan never compares raw manifests with state: both sides are first normalized
(:func:`normalize_spec`) and redacted with the state's salt (:func:`redact`), then
:func:`field_changes` lists what differs and :func:`forces_restart` says which differences the
engine cannot apply live.
"""

from reconciler.diff.changes import RawChange, field_changes
from reconciler.diff.normalize import normalize_spec
from reconciler.diff.redact import (
    SENSITIVE_MARKER,
    digest_value,
    is_redacted,
    redact,
    redact_in_place,
    settle_unknown,
    spec_digest,
    unknown_names,
)
from reconciler.diff.restart import IN_PLACE_PATHS, forces_restart

__all__ = [
    "IN_PLACE_PATHS",
    "SENSITIVE_MARKER",
    "RawChange",
    "digest_value",
    "field_changes",
    "forces_restart",
    "is_redacted",
    "normalize_spec",
    "redact",
    "redact_in_place",
    "settle_unknown",
    "spec_digest",
    "unknown_names",
]
