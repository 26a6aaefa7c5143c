"""Project settings: ``reconciler.yaml`` plus the environment, as a ``Settings``.

- The file is ``reconciler.yaml`` in the project directory, or the path given with ``--config``.
  A missing default file means "all defaults" (the embedded sandbox); a missing ``--config`` file
  is an error. Only a regular file is read (a FIFO, device or directory there is an error), of
  at most 16 MiB.
- String values are interpolated like manifests (``${VAR}``, ``${VAR:-default}``, ``$${``). With
  any engine but ``sandbox``, the default of a secret-like key (``app_certificate``) is a
  placeholder for the sandbox (:mod:`reconciler.manifests.defaults`): it is kept in
  :attr:`Settings.placeholders`, and every command that reaches the engine refuses it.
- Unknown keys are errors, with a suggestion. ``customer_id``/``customer_secret`` are never read
  from the file: they come from ``AGORA_CUSTOMER_ID``/``AGORA_CUSTOMER_SECRET``; with
  ``engine: sandbox``, ``platform: sandbox`` and those unset, both default to ``sandbox``.
- ``RECONCILER_ENGINE``, when set and not empty, overrides ``engine``.
- ``platform`` (the Conversational AI Platform) is ``sandbox`` (the default), ``preview``, an
  ``https://`` URL, or an ``http://`` URL on the loopback interface (a served sandbox);
  ``RECONCILER_PLATFORM``, when set and not empty, overrides it.
- ``engine`` is ``sandbox``, a region (``us``, ``eu``, ``ap``, ``cn``), an ``https://`` URL, or an
  ``http://`` URL on the loopback interface.
- ``app_certificate`` must be 32 characters when given; an empty value means "none" (so
  ``${AGORA_APP_CERTIFICATE:-}`` makes it optional). ``auth: token`` needs it.
- ``state`` is a path or a ``postgresql://`` URL (``state: ${RECONCILER_STATE_URL}``); the URL's
  password is split off into ``state_password`` at once, so no message can show it.
  ``state_key`` names the project's state in the database (default: the App ID).

Every problem is reported at once, located in the settings file, as a
:class:`~reconciler.errors.ValidationError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pydantic

from reconciler.errors import Location, Problem, ValidationError
from reconciler.manifests.defaults import refused_defaults, secret_setting
from reconciler.manifests.interpolate import Interpolated, interpolate_tree
from reconciler.manifests.loader import finish, read_file
from reconciler.manifests.validation import translate, unknown_key_message
from reconciler.manifests.yamlfile import LineDict
from reconciler.models.hosts import LOOPBACK_EXAMPLES, is_loopback_host
from reconciler.models.settings import Settings
from reconciler.models.stateurl import is_postgres_url, split_postgres_url

SETTINGS_FILE = "reconciler.yaml"
ENV_ENGINE = "RECONCILER_ENGINE"
ENV_PLATFORM = "RECONCILER_PLATFORM"
PREVIEW = "preview"
ENV_CUSTOMER_ID = "AGORA_CUSTOMER_ID"
ENV_CUSTOMER_SECRET = "AGORA_CUSTOMER_SECRET"
SANDBOX = "sandbox"
SANDBOX_CREDENTIAL = "sandbox"
REGIONS = ("us", "eu", "ap", "cn")
CERTIFICATE_LENGTH = 32
_NOT_IN_FILE = {"customer_id": ENV_CUSTOMER_ID, "customer_secret": ENV_CUSTOMER_SECRET}
_NOT_KEYS = frozenset(
    {
        "project_dir",
        "config_path",
        "state_password",
        "state_secret_params",
        "placeholders",
        *_NOT_IN_FILE,
    }
)
FILE_KEYS: tuple[str, ...] = tuple(k for k in Settings.model_fields if k not in _NOT_KEYS)
"""Keys ``reconciler.yaml`` may set."""
_WHERE = "settings"


def engine_problem(engine: str) -> str | None:
    """Why ``engine`` is not a usable engine, or ``None``."""
    if engine == SANDBOX or engine in REGIONS:
        return None
    parts = urlsplit(engine)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        if is_loopback_host(parts.hostname):
            return None
        return (
            "engine: plain http:// is allowed only on the loopback interface "
            f"({LOOPBACK_EXAMPLES}); use https://"
        )
    return "engine must be sandbox, a region (us, eu, ap, cn) or an https:// URL"


def platform_problem(platform: str) -> str | None:
    """Why ``platform`` is not a usable Platform location, or ``None``."""
    if platform in (SANDBOX, PREVIEW):
        return None
    parts = urlsplit(platform)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        if is_loopback_host(parts.hostname):
            return None
        return (
            "platform: plain http:// is allowed only on the loopback interface "
            f"({LOOPBACK_EXAMPLES}); use https://"
        )
    return "platform must be sandbox, preview or an https:// URL"


def load_settings(
    project_dir: Path, config_path: Path | None, environ: Mapping[str, str]
) -> Settings:
    """The project's settings, or a ValidationError carrying every problem found."""
    if not project_dir.is_dir():
        raise ValidationError(
            [Problem(Location(str(project_dir)), "project directory not found")], what=_WHERE
        )
    path = config_path if config_path is not None else project_dir / SETTINGS_FILE
    shown = _shown(config_path, project_dir)
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    locations: dict[str, Location] = {}
    root = Location(shown)
    interpolated: Interpolated | None = None
    if os.path.lexists(path):  # anything there is read: a FIFO or a device is refused
        values, interpolated, root = _read(path, shown, environ, problems)
        locations = interpolated.locations if interpolated is not None else {}
    elif config_path is not None:
        problems.append(Problem(root, "settings file not found"))
    _environment(values, environ, problems)
    if interpolated is not None and interpolated.defaulted:
        # Settings' secrets may serve the Platform too: a placeholder only where both are sandboxes.
        sandbox = values.get("engine", SANDBOX) == values.get("platform", SANDBOX) == SANDBOX
        refused = refused_defaults(interpolated, root, sandbox=sandbox, sensitive=secret_setting)
        if refused:  # refused where the engine is reached: Settings.refuse_placeholders
            values["placeholders"] = tuple(finish(refused))
    problems.extend(_cross_checks(values, locations, root))
    settings: Settings | None = None
    try:
        settings = Settings(
            project_dir=project_dir,
            config_path=path if path.is_file() else None,
            **values,
        )
    except pydantic.ValidationError as exc:
        problems.extend(translate(exc, locations, root, where=_WHERE))
    if problems or settings is None:
        raise ValidationError(finish(problems), what=_WHERE)
    return settings


def _shown(config_path: Path | None, project_dir: Path) -> str:
    if config_path is None:
        return SETTINGS_FILE
    if not config_path.is_absolute():
        return config_path.as_posix()
    try:
        return config_path.relative_to(project_dir).as_posix()
    except ValueError:
        return config_path.as_posix()


def _read(
    path: Path, shown: str, environ: Mapping[str, str], problems: list[Problem]
) -> tuple[dict[str, Any], Interpolated | None, Location]:
    parsed = read_file(path, shown)
    problems.extend(parsed.problems)
    root = Location(shown)
    if not parsed.documents:
        return {}, None, root
    document = parsed.documents[0]
    root = Location(shown, document.line)
    if len(parsed.documents) > 1 or not isinstance(document.value, LineDict):
        problems.append(Problem(root, "the settings file must hold one mapping"))
        return {}, None, root
    interpolated = interpolate_tree(document.value, environ, root)
    problems.extend(interpolated.problems)
    data = interpolated.value if isinstance(interpolated.value, dict) else {}
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = interpolated.locations.get(key, root)
        if key in _NOT_IN_FILE:
            message = f"{key} cannot be set in the settings file; set {_NOT_IN_FILE[key]}"
            problems.append(Problem(where, message))
        elif key not in FILE_KEYS:
            problems.append(Problem(where, unknown_key_message(key, "", FILE_KEYS, _WHERE)))
        elif key in interpolated.failed:
            continue
        elif value is not None:
            values[key] = value
    if values.get("app_certificate") == "":
        del values["app_certificate"]
    return values, interpolated, root


def _environment(
    values: dict[str, Any], environ: Mapping[str, str], problems: list[Problem]
) -> None:
    override = environ.get(ENV_ENGINE, "")
    if override:
        reason = engine_problem(override)
        if reason is not None:
            problems.append(Problem(Location(ENV_ENGINE), reason))
        else:
            values["engine"] = override
    platform = environ.get(ENV_PLATFORM, "")
    if platform:
        reason = platform_problem(platform)
        if reason is not None:
            problems.append(Problem(Location(ENV_PLATFORM), reason))
        else:
            values["platform"] = platform
    engine = values.get("engine", SANDBOX)
    # The sandbox's own credentials stand in only when nothing else is called: a real Platform
    # (or engine) must get the credentials from the environment, never ``sandbox``.
    only_sandboxes = engine == SANDBOX and values.get("platform", SANDBOX) == SANDBOX
    for key, variable in _NOT_IN_FILE.items():
        value = environ.get(variable, "")
        if value:
            values[key] = value
        elif only_sandboxes:
            values[key] = SANDBOX_CREDENTIAL


def _cross_checks(
    values: Mapping[str, Any], locations: Mapping[str, Location], root: Location
) -> list[Problem]:
    """Checks pydantic does not make, on the raw values (so they run even if pydantic fails)."""
    problems: list[Problem] = []
    engine = values.get("engine", SANDBOX)
    reason = engine_problem(engine) if isinstance(engine, str) else None
    if reason is not None:
        problems.append(Problem(locations.get("engine", root), reason))
    platform = values.get("platform", SANDBOX)
    reason = platform_problem(platform) if isinstance(platform, str) else None
    if reason is not None:
        problems.append(Problem(locations.get("platform", root), reason))
    state = values.get("state")
    if isinstance(state, str) and is_postgres_url(state):
        try:
            split_postgres_url(state)
        except ValueError as exc:
            problems.append(Problem(locations.get("state", root), f"state: {exc}"))
    elif values.get("state_key") is not None:
        message = "state_key names a state inside a database; it needs state: postgresql://..."
        problems.append(Problem(locations.get("state_key", root), message))
    certificate = values.get("app_certificate")
    if isinstance(certificate, str) and len(certificate) != CERTIFICATE_LENGTH:
        problems.append(
            Problem(
                locations.get("app_certificate", root),
                f"app_certificate must be {CERTIFICATE_LENGTH} characters",
            )
        )
    if values.get("auth") == "token" and certificate is None:
        problems.append(Problem(locations.get("auth", root), "auth: token needs app_certificate"))
    ttl = values.get("token_ttl_s", 86400)
    window = values.get("token_renewal_window_s", 7200)
    if isinstance(ttl, int) and isinstance(window, int) and window >= ttl:
        problems.append(
            Problem(
                locations.get("token_renewal_window_s", root),
                f"token_renewal_window_s ({window}) must be shorter than token_ttl_s ({ttl}), "
                "or every plan would renew every token",
            )
        )
    return problems
