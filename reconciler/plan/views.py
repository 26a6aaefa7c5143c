"""A desired agent as it is compared (:class:`DesiredView`), and the digests a saved plan
is checked against (:func:`manifests_digest`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.diff import (
    normalize_spec,
    normalize_spec_sharing,
    redact_copying,
    redact_in_place,
    settle_unknown,
    spec_digest,
)
from reconciler.models import (
    DesiredAgent,
)


@dataclass(frozen=True)
class DesiredView:
    """A desired agent brought to the form it is compared in."""

    agent: DesiredAgent
    spec: dict[str, Any]
    digest: str


def desired_view(
    agent: DesiredAgent, salt: str, recorded: dict[str, Any] | None = None
) -> DesiredView:
    """Normalize and redact a desired agent with the state's salt.

    Values the manifests could not give (an unset variable, in a plan made without secrets) take
    the ``recorded`` spec's value where it has one, else an unknown marker.
    """
    spec = dict(agent.spec)
    if agent.token_mode == "auto":
        spec["token"] = "auto"
    if agent.unknown:  # settled in place below: a tree of its own
        redacted = redact_in_place(normalize_spec(spec), agent.sensitive, salt)
        settle_unknown(redacted, agent.unknown, agent.sensitive, recorded)
    else:
        # The view shares every subtree that neither normalization nor redaction changes with
        # the manifest's spec (never changed in place, neither of them): one copy of those in
        # memory, not two, for every agent a plan starts or records.
        redacted = redact_copying(normalize_spec_sharing(spec), agent.sensitive, salt)
    return DesiredView(agent=agent, spec=redacted, digest=spec_digest(redacted))


def manifests_digest(views: Iterable[DesiredView]) -> str:
    """Digest of the whole desired set (names and redacted specs): moves when any manifest does."""
    return digest_of_digests({view.agent.name: reviewed_digest(view) for view in views})


def reviewed_digest(view: DesiredView) -> str:
    """The spec digest, plus the lifecycle fields that differ from their defaults (so a saved
    plan goes stale when one of them changes)."""
    agent = view.agent
    marks = [
        "protect" if agent.protect else "",
        f"restart_policy={agent.restart_policy}" if agent.restart_policy != "always" else "",
        f"desired={agent.desired}" if agent.desired != "running" else "",
        f"renamed_from={agent.renamed_from}" if agent.renamed_from else "",
        f"on_delete={agent.on_delete}" if agent.on_delete != "stop" else "",
        f"import={agent.import_id}" if agent.import_id else "",
    ]
    return "+".join([view.digest, *(m for m in marks if m)])


def digest_of_digests(digests: dict[str, str]) -> str:
    """:func:`manifests_digest` from each agent's name and digest."""
    h = hashlib.sha256()
    for name in sorted(digests):
        h.update(f"{name}\x00{digests[name]}\n".encode())
    return "sha256:" + h.hexdigest()
