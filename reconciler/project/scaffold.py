"""``reconciler init``: a new project from templates, never overwriting a file.

The templates live beside this module (``templates/``): ``reconciler.yaml`` for the embedded
sandbox, one commented manifest in ``agents.d/``, the manifest JSON Schema next to it (so the
manifest's ``# yaml-language-server: $schema=`` line works in any editor), a ``.gitignore`` for
the files that must not be committed, and the GitHub workflows (plan on pull request, apply on
merge, drift every hour). The project plans and applies against the sandbox as written, with
nothing to edit.

The workflows run this project's GitHub Action, which installs reconciler from the repository
and ref its ``uses:`` names (never by name from a package index, where the name could belong to
another project). That reference (:data:`ACTION_PLACEHOLDER` in the templates) is the
``--action OWNER/REPO@REF`` given to ``init``, else the repository and commit this reconciler was
installed from when pip recorded a GitHub one (``pip install git+https://github.com/...``). When
neither is known the workflows are not written (a workflow that cannot run is worse than none):
``init`` says so, and ``init --action ...`` adds them later, keeping every other file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Literal

from reconciler.errors import SettingsError
from reconciler.manifests import manifest_schema

SCHEMA_FILE = "agents.d/manifest.schema.json"
ACTION_PLACEHOLDER = "RECONCILER_ACTION_REF"
"""What the workflow templates hold where ``uses:`` names the action (see the module docstring)."""
LOCAL_ACTION = "./"
"""The action of the repository the workflow runs in, at the commit under review: for this
project's own repository (its ``examples/github/`` workflows)."""
_ACTION_REF = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@[A-Za-z0-9_./-]+")
_GITHUB_URL = re.compile(
    r"(?:git\+)?https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?"
)
_WORKFLOWS_SKIPPED = (
    "not written: name where the workflows get reconciler from, "
    "`reconciler init --action OWNER/REPO@REF` (a release tag or a commit of its repository)"
)

_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("reconciler.yaml", "reconciler.yaml"),
    ("agents.d/assistant.yaml", "agents.d/assistant.yaml"),
    ("gitignore", ".gitignore"),
    ("github/reconciler-plan.yml", ".github/workflows/reconciler-plan.yml"),
    ("github/reconciler-apply.yml", ".github/workflows/reconciler-apply.yml"),
    ("github/reconciler-drift.yml", ".github/workflows/reconciler-drift.yml"),
)
"""(template, destination relative to the project directory)."""


@dataclass(frozen=True)
class Scaffolded:
    """One file of the scaffold and what ``init`` did with it."""

    path: str
    outcome: Literal["created", "kept", "skipped"]
    note: str = ""
    """Why a file was skipped."""


def check_action_ref(ref: str) -> str:
    """``ref`` if it names a GitHub Action usable in ``uses:`` (``OWNER/REPO@REF``, or ``./``
    for the repository's own action), else :class:`SettingsError`."""
    if ref == LOCAL_ACTION or _ACTION_REF.fullmatch(ref):
        return ref
    raise SettingsError(
        f"--action {ref!r}: expected OWNER/REPO@REF (a release tag or a commit of reconciler's "
        "repository, e.g. example-org/reconciler@v0.1.0), or ./ for this repository's own action"
    )


def installed_action_ref() -> str | None:
    """``OWNER/REPO@COMMIT`` of the GitHub repository this reconciler was installed from, when
    pip recorded one (PEP 610 ``direct_url.json`` of ``pip install git+https://github.com/...``),
    else ``None`` (installed from a directory or a package index: the repository is unknown)."""
    try:
        text = metadata.distribution("reconciler").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        origin = json.loads(text or "null")
    except ValueError:
        return None
    if not isinstance(origin, dict):
        return None
    vcs = origin.get("vcs_info")
    url = _GITHUB_URL.fullmatch(str(origin.get("url", "")))
    if not isinstance(vcs, dict) or vcs.get("vcs") != "git" or url is None:
        return None
    commit = str(vcs.get("commit_id", ""))
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    return f"{url.group(1)}/{url.group(2)}@{commit}"


def render_workflow(template: str, action: str) -> str:
    """A workflow template with its action reference filled in."""
    return template.replace(ACTION_PLACEHOLDER, action)


def scaffold(directory: Path, action: str | None = None) -> list[Scaffolded]:
    """Write the project files into ``directory`` (created if missing); keep existing ones.

    ``action`` is the ``uses:`` reference of the workflows (``OWNER/REPO@REF``); ``None``: the
    one this reconciler was installed from, if known, else the workflows are skipped.
    """
    if directory.exists() and not directory.is_dir():
        raise SettingsError(f"{directory} exists and is not a directory")
    ref = check_action_ref(action) if action is not None else installed_action_ref()
    contents: list[tuple[str, str | None]] = []
    for name, dest in _TEMPLATES:
        if name.startswith("github/"):
            text = None if ref is None else render_workflow(_template(name), ref)
        else:
            text = _template(name)
        contents.append((dest, text))
    contents.insert(2, (SCHEMA_FILE, json.dumps(manifest_schema(), indent=2) + "\n"))
    done = []
    for dest, content in contents:
        target = directory / dest
        if target.exists() or target.is_symlink():
            done.append(Scaffolded(dest, "kept"))
            continue
        if content is None:
            done.append(Scaffolded(dest, "skipped", _WORKFLOWS_SKIPPED))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_new(target, content)
        done.append(Scaffolded(dest, "created"))
    return done


def _template(name: str) -> str:
    return (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` with ``text``; fail rather than replace a file that appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise SettingsError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
