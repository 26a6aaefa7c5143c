"""A ``${VAR:-default}`` default of a sensitive value is for the sandbox only.

The example project and the scaffold run against the embedded sandbox with no secrets, through
defaults such as ``${OPENAI_API_KEY:-sk-sandbox-placeholder}``. Against a real engine such a
default is a placeholder that must never be sent: an agent restarted with it would be stopped
and started again with a key that does not work. So, with any engine but ``sandbox``, a default
taken for a sensitive value is refused, as if the variable had no default:

- a problem naming the variable, located at the value (``agents.d/x.yaml:12: environment variable
  'OPENAI_API_KEY' is not set; ...``), so every command stops before it calls the engine;
- or, where a command runs without secrets on purpose (``validate``, ``plan --no-refresh``), the
  value is unknown, like any unset variable.

Which values are sensitive is the one rule of :mod:`reconciler.models.secrets`: in a manifest,
every value of the spec (``properties``, ``token``, ``preset``, ``pipeline_id``) under a secret-like
key, or interpolated under a key that is not plain (``channel``, ``model``, ``region`` and the like
keep their defaults); in ``reconciler.yaml``, the values of secret-like keys
(``app_certificate``). A variable set to a non-empty value is used as always.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.errors import Location, Problem
from reconciler.manifests.interpolate import Interpolated
from reconciler.models.fieldpath import FieldPath
from reconciler.models.secrets import is_secret_key, is_sensitive

__all__ = ["mapping_keys", "refused_defaults", "secret_setting", "sensitive_spec_value"]

SPEC_ROOTS = ("properties", "token", "preset", "pipeline_id")
"""Top-level keys of a manifest whose values are sent to the engine (its spec)."""


def mapping_keys(path: str) -> tuple[str, ...]:
    """The mapping keys along a document path (``properties.llm.api_key``), indexes left out."""
    try:
        parts = FieldPath.parse(path)
    except ValueError:
        return (path,)
    return tuple(part for part in parts if isinstance(part, str))


def sensitive_spec_value(path: str) -> bool:
    """Whether an interpolated value of a manifest at ``path`` is sensitive (and in the spec)."""
    keys = mapping_keys(path)
    return bool(keys) and keys[0] in SPEC_ROOTS and is_sensitive(keys, interpolated=True)


def secret_setting(path: str) -> bool:
    """Whether a value of ``reconciler.yaml`` at ``path`` lies under a secret-like key."""
    return any(is_secret_key(key) for key in mapping_keys(path))


def refused_defaults(
    values: Interpolated,
    root: Location,
    *,
    sandbox: bool,
    sensitive: Callable[[str], bool],
    allow_unset: bool = False,
) -> list[Problem]:
    """The problems of defaults taken for sensitive values, unless the engine is the sandbox.

    With ``allow_unset`` there are none: each such value becomes unknown instead (added to
    :attr:`Interpolated.unknown`), as an unset variable without a default would.
    """
    if sandbox:
        return []
    problems: list[Problem] = []
    for path, names in values.defaulted.items():
        if path in values.failed or not sensitive(path):
            continue
        if allow_unset:
            values.unknown[path] = tuple(dict.fromkeys((*values.unknown.get(path, ()), *names)))
            continue
        where = values.locations.get(path, root)
        problems.extend(Problem(where, _message(name, path)) for name in names)
    return problems


def _message(name: str, path: str) -> str:
    return (
        f"environment variable '{name}' is not set (in {path}): the default of a sensitive "
        "value is a placeholder for engine: sandbox, never sent to another engine; "
        f"set {name}"
    )
