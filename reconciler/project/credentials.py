"""What reaching the engine takes from a project: its credentials, and the secrets to scrub.

Kept apart from :mod:`reconciler.project.connect` (which imports httpx and the engine client)
so that the commands that never talk to the engine do not load them.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import SettingsError
from reconciler.models import DesiredSet, Settings

__all__ = ["credentials_error", "secret_values"]


def credentials_error(settings: Settings, why: str) -> SettingsError | None:
    """The error naming what is missing if the engine cannot be reached for ``why``, or None."""
    if settings.has_credentials:
        return None
    needed = (
        "app_certificate (usually ${AGORA_APP_CERTIFICATE}) for auth: token"
        if settings.auth == "token"
        else "AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET"
    )
    return SettingsError(
        f"{why} needs the credentials of the engine {settings.engine_label}: {needed} not set"
    )


def secret_values(desired: DesiredSet) -> set[str]:
    """Every string under a sensitive path of any desired agent (interpolated values, keys),
    and each value interpolated into one (:attr:`DesiredAgent.secrets`): what the engine
    client scrubs from the engine's texts."""
    found: set[str] = set()
    for agent in desired.agents.values():
        for path in agent.sensitive:
            found |= _strings(path.get_in(agent.spec))
        found |= agent.secrets
    for resource in desired.resources.values():
        for path in resource.sensitive:
            found |= _strings(path.get_in(resource.spec))
        found |= resource.secrets
    return found


def _strings(node: Any) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(_strings(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_strings(v) for v in node)) if node else set()
    return set()
