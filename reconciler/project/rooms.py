"""One environment's plan against the rooms of the others on its App ID.

On one App ID and engine a channel is one room: an agent of staging joining prod's channel with
prod's ``agent_rtc_uid`` would knock prod's agent out. ``validate`` and ``plan --env all`` see
every environment and refuse such a pair (:func:`~reconciler.manifests.conflicts.shared_rooms`);
a command of one environment (``--env staging plan``, ``apply``) checks the same here, so it
cannot go around them.

Only the other environments whose settings can be read here and name the same App ID and engine
are compared: a job that holds one environment's secrets cannot read another's App ID (its
variables are unset), and an environment on an App ID of its own has rooms of its own. Their
manifests are read as ``validate`` reads them (unset variables allowed); one that cannot be
read is left to its own commands.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.errors import ReconcilerError, ValidationError
from reconciler.manifests import load_desired, load_settings
from reconciler.manifests.conflicts import shared_rooms
from reconciler.manifests.settings import environ_for
from reconciler.models import DesiredSet, Settings

__all__ = ["check_other_rooms"]


def check_other_rooms(settings: Settings, environ: Mapping[str, str], desired: DesiredSet) -> None:
    """Raise a :class:`ValidationError` if an agent of ``desired`` (the manifests of
    ``settings.environment``) joins a channel with a uid that an agent of another environment on
    the same App ID and engine joins too. ``environ``: the process environment, as given."""
    own = settings.environment
    if own is None or len(settings.environments) < 2:
        return
    app = (settings.engine_identity, settings.app_id)
    others: list[tuple[str, Settings, DesiredSet]] = []
    for name in settings.environments:
        if name == own:
            continue
        try:
            other = load_settings(settings.project_dir, settings.config_path, environ, name)
            if (other.engine_identity, other.app_id) != app:
                continue
            view = environ_for(other.variables, environ)
            others.append((name, other, load_desired(other, view, allow_unset=True, workers=1)))
        except ReconcilerError:
            continue  # its own commands (and validate) report it
    if not others:
        return
    problems = shared_rooms([(own, settings, desired), *others], involving=own)
    if problems:
        raise ValidationError(problems, what=f"{len(others) + 1} environments")
