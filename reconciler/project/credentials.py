"""What reaching the engine takes from a project: its credentials, and the secrets to scrub.

Kept apart from :mod:`reconciler.project.connect` (which imports httpx and the engine client)
so that the commands that never talk to the engine do not load them.
"""

from __future__ import annotations

from reconciler.errors import SettingsError
from reconciler.models import DesiredSet, Settings
from reconciler.models.secrets import values_under

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
        found |= values_under(agent.spec, agent.sensitive) | agent.secrets
    for resource in desired.resources.values():
        found |= values_under(resource.spec, resource.sensitive) | resource.secrets
    return found
