"""The layer rule of docs/architecture.md: imports point down only, siblings don't import each
other, third-party packages stay in the module that owns them, and the sandbox is an island."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"

LAYERS: dict[str, int] = {
    "errors": 0,
    "models": 0,
    "safefile": 0,
    "manifests": 1,
    "state": 1,
    "engine": 1,
    "diff": 1,
    "kinds": 1,
    "plan": 2,
    "drift": 2,
    "apply": 3,
    "render": 4,
    "project": 4,
    "watch": 4,
    "cli": 5,
    "__main__": 6,
    "__init__": 0,
}
ISLAND = "sandbox"
# Which top-level units may import the island (to run it in-process or serve it).
ISLAND_USERS = {"project", "cli"}
# Third-party packages and the units allowed to import them.
THIRD_PARTY_OWNERS: dict[str, set[str]] = {
    "pydantic": {"models", "manifests", "state", "engine", "kinds", "project", "sandbox"},
    "yaml": {"manifests"},
    "httpx": {"engine", "project", "sandbox"},
    "click": {"cli"},
    "starlette": {"sandbox"},
    "uvicorn": {"sandbox"},
    "agora_agent": {"engine"},
    "psycopg": {"state"},
    "prometheus_client": {"watch"},
}
# Siblings that build on each other: models use errors' types; watch drives a project.
ALLOWED_SIBLINGS = {("models", "errors"), ("watch", "project")}


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _package(path: Path) -> list[str]:
    """The dotted package ``path`` belongs to (for ``__init__.py``, the package itself)."""
    return list(path.relative_to(PACKAGE.parent).parts[:-1])


def _absolute(path: Path, node: ast.ImportFrom) -> list[str]:
    """The modules an import names, relative ones (``from . import x``) resolved."""
    if node.level == 0:
        return [node.module] if node.module else []
    package = _package(path)
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        return [".".join([*base, node.module])]
    return [".".join([*base, alias.name]) for alias in node.names]


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.extend((module, node.lineno) for module in _absolute(path, node))
    return out


def test_relative_imports_are_resolved_to_their_unit() -> None:
    sandbox = PACKAGE / "sandbox" / "core.py"
    relative = ast.parse("from . import accesstoken\nfrom ..models import Plan\n").body
    assert [_absolute(sandbox, n) for n in relative if isinstance(n, ast.ImportFrom)] == [
        ["reconciler.sandbox.accesstoken"],
        ["reconciler.models"],
    ]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_unit_has_a_layer() -> None:
    units = {_unit(p) for p in SOURCES}
    unknown = units - set(LAYERS) - {ISLAND}
    assert not unknown, f"add these to the layer table (docs/architecture.md, Layers): {unknown}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layer_rule(path: Path) -> None:
    unit = _unit(path)
    problems: list[str] = []
    for module, line in _imports(path):
        top = module.split(".")[0]
        where = f"{path.relative_to(PACKAGE.parent)}:{line}"
        if top == "reconciler":
            parts = module.split(".")
            if len(parts) == 1:
                continue
            target = parts[1]
            if unit == ISLAND:
                if target != ISLAND:
                    problems.append(f"{where}: the sandbox is an island, imports {module}")
                continue
            if target == ISLAND:
                if unit not in ISLAND_USERS:
                    problems.append(f"{where}: only {ISLAND_USERS} may use the sandbox")
                continue
            if target == unit:
                continue
            mine, theirs = LAYERS[unit], LAYERS.get(target, 99)
            if theirs > mine:
                problems.append(f"{where}: layer {mine} '{unit}' imports layer {theirs} '{target}'")
            elif theirs == mine and (unit, target) not in ALLOWED_SIBLINGS:
                problems.append(f"{where}: siblings '{unit}' and '{target}' (layer {mine})")
        elif top in THIRD_PARTY_OWNERS and unit not in THIRD_PARTY_OWNERS[top]:
            problems.append(f"{where}: '{top}' belongs to {sorted(THIRD_PARTY_OWNERS[top])}")
    assert not problems, "\n".join(problems)


def test_nothing_below_the_cli_prints() -> None:
    offenders = []
    for path in SOURCES:
        unit = _unit(path)
        if unit in ("cli", "__main__") or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("print", "input", "exit")
            ):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not offenders, offenders


def test_every_module_has_a_docstring() -> None:
    missing = [
        str(p.relative_to(PACKAGE.parent))
        for p in SOURCES
        if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert not missing, missing
