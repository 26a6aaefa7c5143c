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

- ``environments`` names the project's environments, each a block of the keys above that
  differ there (merged onto the file like a manifest's overrides: see
  :mod:`reconciler.manifests.environments`), plus ``variables`` (which variable holds
  ``AGORA_CUSTOMER_ID``, ... there). Each environment sets its own ``state`` or ``state_key``.
  A project with environments needs one chosen (``--env``, ``RECONCILER_ENV``).

Every problem is reported at once, located in the settings file, as a
:class:`~reconciler.errors.ValidationError`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic

from reconciler.errors import (
    EnvironmentChoiceError,
    Location,
    Problem,
    ValidationError,
    printable,
)
from reconciler.manifests.defaults import mapping_keys, refused_defaults, secret_setting
from reconciler.manifests.environments import name_problem, overlay
from reconciler.manifests.excerpt import with_excerpts
from reconciler.manifests.interpolate import Interpolated, interpolate_tree
from reconciler.manifests.loader import finish, read_file
from reconciler.manifests.validation import translate, unknown_key_message
from reconciler.manifests.yamlfile import LineDict
from reconciler.models.serviceurl import service_url_problem
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
_APP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What an App ID may be: it is a path segment of every engine call and keys the state."""
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
"""A value that starts like a URL (``scheme://``): never a state file path."""
_DATABASE_SCHEME = re.compile(r"^(?:postgresql|postgres):", re.IGNORECASE)
"""A value that starts like a database URL (``postgresql:/db``, a slash short): no file path."""
_NOT_IN_FILE = {"customer_id": ENV_CUSTOMER_ID, "customer_secret": ENV_CUSTOMER_SECRET}
_NOT_KEYS = frozenset(
    {
        "project_dir",
        "config_path",
        "state_password",
        "state_secret_params",
        "environment",
        "environments",
        "variables",
        "placeholders",
        *_NOT_IN_FILE,
    }
)
FILE_KEYS: tuple[str, ...] = tuple(k for k in Settings.model_fields if k not in _NOT_KEYS)
"""Keys ``reconciler.yaml`` may set."""
ENVIRONMENTS_KEY = "environments"
VARIABLES_KEY = "variables"
ENV_ENVIRONMENT = "RECONCILER_ENV"
ENVIRONMENT_KEYS: tuple[str, ...] = (
    *(k for k in FILE_KEYS if k not in ("agents_dir", "sandbox_db")),
    VARIABLES_KEY,
)
"""Keys an environment's block may set (one ``agents.d/`` and one sandbox serve them all)."""
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WHERE = "settings"
_STAND_INS: dict[str, str] = {"app_certificate": "0" * CERTIFICATE_LENGTH}
"""With unset variables allowed (``validate``, which never reaches the engine): what a key whose
value reads an unset variable holds, so that the checks needing it (``auth: token``, ``token:
auto``) see it set; any other such key takes its default."""


def engine_problem(engine: str) -> str | None:
    """Why ``engine`` is not a usable engine, or ``None``."""
    if engine == SANDBOX or engine in REGIONS:
        return None
    return service_url_problem(
        "engine", engine, "engine must be sandbox, a region (us, eu, ap, cn) or an https:// URL"
    )


def platform_problem(platform: str) -> str | None:
    """Why ``platform`` is not a usable Platform location, or ``None``."""
    if platform in (SANDBOX, PREVIEW):
        return None
    return service_url_problem(
        "platform", platform, "platform must be sandbox, preview or an https:// URL"
    )


def environ_for(variables: Mapping[str, str], environ: Mapping[str, str]) -> Mapping[str, str]:
    """``environ`` as an environment with renamed ``variables`` sees it: each name reads its
    variable's value, and is unset when that variable is (never the plain one's value)."""
    if not variables:
        return environ
    view = dict(environ)
    for name, source in variables.items():
        if source in environ:
            view[name] = environ[source]
        else:
            view.pop(name, None)
    return view


def declared_environments(project_dir: Path, config_path: Path | None) -> tuple[str, ...]:
    """The names of the environments the settings file declares (none if it cannot be read:
    :func:`load_settings` then says why)."""
    path = config_path if config_path is not None else project_dir / SETTINGS_FILE
    if not path.is_file():
        return ()
    parsed = read_file(path, _shown(config_path, project_dir))
    document = parsed.documents[0].value if len(parsed.documents) == 1 else None
    blocks = document.get(ENVIRONMENTS_KEY) if isinstance(document, dict) else None
    return tuple(n for n in blocks if isinstance(n, str)) if isinstance(blocks, dict) else ()


def shared_states(named: list[tuple[str, Settings]]) -> list[Problem]:
    """A problem for each environment whose settings name the state an environment before it
    names (its ``state`` and, for a database, ``state_key``, however the URL is spelled): each
    environment must keep its own state. Located at the environment's ``state_key`` (a
    database) or ``state`` in the settings file, else at its name."""
    first: dict[tuple[str, ...], str] = {}
    problems: list[Problem] = []
    for name, settings in named:
        seen = first.setdefault(settings.state_identity, name)
        if seen == name:
            continue
        key = (
            f" with state_key {settings.effective_state_key!r}"
            if settings.state_is_database
            else ""
        )
        message = (
            f"environments {seen!r} and {name!r} share one state ({settings.state_shown}{key}): "
            "give each environment its own state (or, in one database, its own state_key)"
        )
        keys = ("state_key", "state") if settings.state_is_database else ("state",)
        problems.append(Problem(_block_location(settings, name, keys), message))
    if not problems:
        return []
    return with_excerpts(finish(problems), named[0][1].project_dir)


def _block_location(settings: Settings, name: str, keys: tuple[str, ...]) -> Location:
    """Where environment ``name``'s block sets the first of ``keys`` (else its name; else the
    file) in the settings file ``settings`` were read from."""
    config = settings.config_path
    shown = _shown(
        config if config != settings.project_dir / SETTINGS_FILE else None, settings.project_dir
    )
    where = Location(shown)
    if config is None or not config.is_file():
        return where
    parsed = read_file(config, shown)
    document = parsed.documents[0].value if len(parsed.documents) == 1 else None
    blocks = document.get(ENVIRONMENTS_KEY) if isinstance(document, LineDict) else None
    if not isinstance(blocks, LineDict) or name not in blocks:
        return where
    block = blocks[name]
    for key in keys:
        if isinstance(block, LineDict) and key in block:
            return block.key_location(key)
    return blocks.key_location(name)


def load_settings(
    project_dir: Path,
    config_path: Path | None,
    environ: Mapping[str, str],
    environment: str | None = None,
    *,
    allow_unset: bool = False,
) -> Settings:
    """The project's settings (as ``environment`` sees them), or a ValidationError carrying
    every problem found; :class:`EnvironmentChoiceError` if the choice of environment does not
    fit the environments the file declares.

    ``allow_unset`` (``validate``, which runs without secrets and never reaches the engine): an
    unset ``${VAR}`` is no problem; its key takes its default and the variable is listed in
    :attr:`Settings.unset_variables`."""
    if not project_dir.is_dir():
        raise ValidationError(
            [Problem(Location(str(project_dir)), "project directory not found")], what=_WHERE
        )
    path = config_path if config_path is not None else project_dir / SETTINGS_FILE
    shown = _shown(config_path, project_dir)
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    locations: Mapping[str, Location] = {}
    root = Location(shown)
    chosen = _Chosen(environment)
    interpolated: Interpolated | None = None
    if os.path.lexists(path):  # anything there is read: a FIFO or a device is refused
        values, interpolated, root = _read(path, shown, environ, problems, chosen, allow_unset)
        if interpolated is not None and interpolated.unknown:
            renamed = chosen.variables  # an environment's `variables:`: the one to set
            unset = {renamed.get(n, n) for names in interpolated.unknown.values() for n in names}
            values["unset_variables"] = tuple((name, shown) for name in sorted(unset))
        locations = interpolated.locations if interpolated is not None else {}
    elif config_path is not None:
        problems.append(Problem(root, "settings file not found"))
    if not problems:
        chosen.check(shown)
    environ = environ_for(chosen.variables, environ)
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
            environment=environment,
            environments=chosen.declared,
            variables=chosen.variables,
            **values,
        )
    except pydantic.ValidationError as exc:
        problems.extend(translate(exc, locations, root, where=_WHERE))
    if problems or settings is None:
        raise ValidationError(with_excerpts(finish(problems), project_dir), what=_WHERE)
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


class _Chosen:
    """The environment asked for, and what the settings file declares."""

    def __init__(self, environment: str | None) -> None:
        self.environment = environment
        self.declared: tuple[str, ...] = ()
        self.variables: dict[str, str] = {}
        self.read = False

    def check(self, shown: str) -> None:
        """Refuse a choice that does not fit the declared environments."""
        declared, environment = self.declared, self.environment
        if declared and environment is None:
            raise EnvironmentChoiceError(
                f"{shown} declares the environments {', '.join(declared)}: choose one with "
                f"--env NAME (or {ENV_ENVIRONMENT}=NAME)",
                declared,
            )
        if environment is not None and environment not in declared:
            which = (
                f"declares the environments {', '.join(declared)}"
                if declared
                else "declares no environments"
            )
            close = difflib.get_close_matches(environment, declared, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise EnvironmentChoiceError(
                f"--env {printable(environment)}: {shown} {which}{hint}", declared
            )


def _environment_block(document: LineDict, chosen: _Chosen, problems: list[Problem]) -> LineDict:
    """The settings file as the chosen environment sees it (its block merged in)."""
    where = document.key_location(ENVIRONMENTS_KEY)
    blocks = document[ENVIRONMENTS_KEY]
    base = LineDict(document.path, document.line)
    base.lines, base.paths = document.lines, document.paths
    base.update((k, v) for k, v in document.items() if k != ENVIRONMENTS_KEY)
    if not isinstance(blocks, LineDict) or not blocks:
        message = "environments must map each environment's name to the settings that differ"
        problems.append(Problem(where, message))
        return base
    chosen.declared = tuple(str(name) for name in blocks)
    selected: LineDict | None = None
    for name, block in blocks.items():
        at = blocks.key_location(name)
        reason = name_problem(name)
        if reason is not None:
            problems.append(Problem(at, reason))
            continue
        if block is None:
            block = LineDict(at.path, at.line)
        if not isinstance(block, LineDict):
            problems.append(Problem(at, f"environments.{name} must be a mapping of settings"))
            continue
        for key in block:
            if key not in ENVIRONMENT_KEYS:
                problems.append(
                    Problem(
                        block.key_location(key),
                        unknown_key_message(key, f"environments.{name}", ENVIRONMENT_KEYS, _WHERE),
                    )
                )
        if block.get("state") is None and block.get("state_key") is None:  # null: unset
            message = (
                f"environments.{name} needs a state of its own: set state (a file or a "
                "postgresql:// URL) or state_key"
            )
            problems.append(Problem(at, message))
        if name == chosen.environment:
            selected = block
    if selected is None:
        return base
    own = LineDict(selected.path, selected.line)
    own.lines, own.paths = selected.lines, selected.paths
    own.update(  # keys it may not set were reported above
        (k, v) for k, v in selected.items() if k in ENVIRONMENT_KEYS and k != VARIABLES_KEY
    )
    chosen.variables = _variables(selected, chosen.environment or "", problems)
    merged: LineDict = overlay(base, own)
    return merged


def _variables(block: LineDict, name: str, problems: list[Problem]) -> dict[str, str]:
    raw = block.get(VARIABLES_KEY)
    if raw is None:
        return {}
    where = block.key_location(VARIABLES_KEY)
    if not isinstance(raw, dict):
        message = f"environments.{name}.variables must map a variable to the one holding it there"
        problems.append(Problem(where, message))
        return {}
    variables: dict[str, str] = {}
    for key, value in raw.items():
        if not (isinstance(key, str) and isinstance(value, str)) or not all(
            _VARIABLE.match(v) for v in (key, value)
        ):
            at = raw.key_location(key) if isinstance(raw, LineDict) else where
            message = (
                f"environments.{name}.variables: {key!r}: {value!r} must name two variables "
                "(letters, digits and '_')"
            )
            problems.append(Problem(at, message))
            continue
        variables[key] = value
    return variables


def _read(
    path: Path,
    shown: str,
    environ: Mapping[str, str],
    problems: list[Problem],
    chosen: _Chosen,
    allow_unset: bool = False,
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
    source = document.value
    if ENVIRONMENTS_KEY in source:
        source = _environment_block(source, chosen, problems)
    if chosen.declared and not problems:  # a malformed block first: it may be the one asked
        chosen.check(shown)  # before interpolation: another environment's variables are unset
    environ = environ_for(chosen.variables, environ)
    interpolated = interpolate_tree(source, environ, root, allow_unset=allow_unset)
    problems.extend(interpolated.problems)
    unknown = {mapping_keys(path)[0] for path in interpolated.unknown if mapping_keys(path)}
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
        elif key in unknown:  # a variable not set (validate only): its stand-in, or the default
            if key in _STAND_INS:
                values[key] = _STAND_INS[key]
        elif value is not None:
            values[key] = value
    if values.get("app_certificate") == "":
        del values["app_certificate"]
    return values, interpolated, root


def _environment(
    values: dict[str, Any], environ: Mapping[str, str], problems: list[Problem]
) -> None:
    for key, variable, problem in (
        ("engine", ENV_ENGINE, engine_problem),
        ("platform", ENV_PLATFORM, platform_problem),
    ):
        override = environ.get(variable, "")
        reason = problem(override) if override else None
        if reason is not None:
            problems.append(Problem(Location(variable), reason))
        elif override:
            values[key] = override
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


_PATHS = {
    "state": ("a file or a postgresql:// URL", True),
    "agents_dir": ("a directory", False),
    "sandbox_db": ("a file", True),
}
"""The settings that name a path: what they name, and whether it is a file (so a value that
names a directory, ``state/`` or ``.``, is refused rather than written as a file)."""


def _path_problems(
    values: Mapping[str, Any], locations: Mapping[str, Location], root: Location
) -> list[Problem]:
    """Blank paths (an empty ``state`` would be the project directory, a blank one a file named
    by spaces, an empty ``agents_dir`` would read reconciler.yaml as a manifest), files named
    as directories, and a blank ``state_key``."""
    problems: list[Problem] = []
    for key, (what, is_file) in _PATHS.items():
        value = values.get(key)
        if not isinstance(value, str):
            continue
        where = locations.get(key, root)
        if not value.strip():
            problems.append(Problem(where, f"{key}: must name {what}, not be empty"))
        elif is_file and not _URL_SCHEME.match(value) and _names_directory(value):
            problems.append(Problem(where, f"{key}: names a directory; name a file in it"))
    state_key = values.get("state_key")
    if isinstance(state_key, str) and state_key and not state_key.strip():
        problems.append(Problem(locations.get("state_key", root), "state_key: must not be blank"))
    return problems


def _names_directory(path: str) -> bool:
    """Whether ``path`` can only name a directory: it ends with a separator, or in ``.`` or
    ``..``."""
    return path.endswith(("/", "\\")) or Path(path).name in ("", ".", "..")


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
    app_id = values.get("app_id")
    if isinstance(app_id, str) and not _APP_ID.fullmatch(app_id):
        message = (
            "app_id: must not be empty"
            if not app_id.strip()
            else "app_id: must be 1 to 64 letters, digits, '-' or '_' (an Agora App ID is 32 "
            "hexadecimal characters)"
        )
        problems.append(Problem(locations.get("app_id", root), message))
    problems.extend(_path_problems(values, locations, root))
    state = values.get("state")
    if isinstance(state, str) and not state.strip():
        pass  # reported by _path_problems
    elif isinstance(state, str) and is_postgres_url(state):
        try:
            split_postgres_url(state)
        except ValueError as exc:
            problems.append(Problem(locations.get("state", root), f"state: {exc}"))
    elif isinstance(state, str) and _DATABASE_SCHEME.match(state):
        message = (
            "state: a database URL starts with postgresql:// (two slashes; "
            "postgresql:///DB for a local socket); write postgresql://USER@HOST/DB"
        )
        problems.append(Problem(locations.get("state", root), message))
    elif isinstance(state, str) and _URL_SCHEME.match(state):
        # A mistyped database URL (postgress://, mysql://) is no file path: taken for one, it
        # would create directories named after its user-info, password included.
        scheme = state.partition("://")[0]
        message = (
            f"state: a URL of scheme {scheme!r} is neither a file path nor a database this "
            "tool supports; write postgresql://USER@HOST/DB (or a file path)"
        )
        problems.append(Problem(locations.get("state", root), message))
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
