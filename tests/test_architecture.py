"""What docs/architecture.md claims, checked against the code: the layer table (read from the doc)
holds (imports point down only, siblings don't import each other, third-party packages stay in
the packages whose row names them, the sandbox is an island), no module imports itself through
a circle, the state backends stay apart (``psycopg`` only in the PostgreSQL one, loaded lazily),
nothing below the CLI prints, and docstrings stand where they belong."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"
DOC = ROOT / "docs" / "architecture.md"


def _layer_table() -> list[tuple[str, str, str]]:
    """``(layer, package, third-party cell)`` of each row of the doc's layer table."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`"):
            rows.append((cells[0], cells[1].strip("`"), cells[3]))
    return rows


def _names(cell: str) -> set[str]:
    """The package names a third-party cell mentions, normalized (``prometheus-client``)."""
    return {_normal(word) for word in re.findall(r"[A-Za-z][A-Za-z0-9_.-]*", cell)}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


TABLE = _layer_table()
ISLAND = "sandbox"
LAYERS: dict[str, int] = {package: int(layer) for layer, package, _ in TABLE if layer.isdigit()} | {
    "__main__": 6,
    "__init__": 0,
}
# Which top-level units may import the island (to run it in-process or serve it).
ISLAND_USERS = {"project", "cli"}
# Third-party packages (as the table names them) each unit may import: the doc's column.
THIRD_PARTY: dict[str, set[str]] = {package: _names(cell) for _, package, cell in TABLE}
# Siblings that build on each other: models use errors' types; watch drives a project.
ALLOWED_SIBLINGS = {("models", "errors"), ("watch", "project")}
DISTRIBUTIONS = importlib.metadata.packages_distributions()


def test_the_layer_table_is_read_from_the_doc() -> None:
    assert LAYERS["models"] == 0 and LAYERS["cli"] == 5 and LAYERS["plan"] == 2
    assert "deepdiff" in THIRD_PARTY["diff"] and "prometheus-client" in THIRD_PARTY["watch"]
    assert [p for layer, p, _ in TABLE if not layer.isdigit()] == [ISLAND]


def _third_party_allowed(unit: str, top: str) -> bool:
    """Whether the doc's table lets ``unit`` import the third-party module ``top`` (named by
    its import name or by its distribution's)."""
    names = {_normal(top), *(_normal(d) for d in DISTRIBUTIONS.get(top, []))}
    return bool(names & THIRD_PARTY.get(unit, set()))


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
        elif top not in sys.stdlib_module_names and not _third_party_allowed(unit, top):
            owners = sorted(u for u in THIRD_PARTY if _third_party_allowed(u, top))
            problems.append(
                f"{where}: '{top}' is not in the third-party column of '{unit}' in "
                f"docs/architecture.md (Layers); it is in that of {owners or 'no package'}"
            )
    assert not problems, "\n".join(problems)


def test_every_dependency_has_an_owner_in_the_layer_table() -> None:
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ (the tool runs on 3.10)")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        _normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])
        for requirement in project["dependencies"]
    }
    owned = set().union(*THIRD_PARTY.values())
    unowned = {
        dist
        for dist in declared
        if dist not in owned
        and not any(
            _normal(module) in owned
            for module, dists in DISTRIBUTIONS.items()
            if dist in {_normal(d) for d in dists}
        )
    }
    assert unowned == set(), "add them to the third-party column of the packages using them"


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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``reconciler`` it imports, wherever the import stands (top
    level, inside a function, under ``TYPE_CHECKING``); ``from package import module`` counts
    as importing that module, ``from package import name`` as importing the package."""
    modules = {_module_name(p): p for p in SOURCES}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                for base in _absolute(path, node) if node.module else []:
                    for alias in node.names:
                        child = f"{base}.{alias.name}"
                        targets.append(child if child in modules else base)
                if not node.module:
                    targets = _absolute(path, node)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_circles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_a_circle() -> None:
    assert circles(import_graph()) == []


def test_an_import_inside_a_function_counts_in_the_graph() -> None:
    graph = import_graph()
    assert "reconciler.project.connect" in graph["reconciler.project.project"]


def test_every_attribute_docstring_stands_right_under_its_attribute() -> None:
    """A string statement in a module or class body documents the assignment just above it;
    one that follows anything else (another docstring, a function) documents nothing, or the
    wrong attribute."""
    stray = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Module, ast.ClassDef)):
                continue
            for before, statement in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(statement, ast.Expr)
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                    and not isinstance(before, (ast.Assign, ast.AnnAssign))
                ):
                    stray.append(f"{path.relative_to(PACKAGE.parent)}:{statement.lineno}")
    assert not stray, stray


def test_the_circle_finder_sees_inside_the_state_backend_packages() -> None:
    """The state backends are sub-packages: their modules and ``__init__`` are in the graph the
    circle test reads, an import inside a function included."""
    graph = import_graph()
    assert {"reconciler.state.local", "reconciler.state.postgres"} <= set(graph)
    assert "reconciler.state.local.wal" in graph["reconciler.state.local.store"]
    assert "reconciler.state.postgres.session" in graph["reconciler.state.postgres.lock"]
    assert "reconciler.state.postgres.schema" in graph["reconciler.state.postgres.session"]
    assert "reconciler.state.postgres.backend" in graph["reconciler.state.backend"]


def _imports_run_on_import(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The import statements a module runs when it is imported (not those inside a function
    or under ``if TYPE_CHECKING:``)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending.extend([*node.body, *node.orelse])
        elif isinstance(node, (ast.Try, ast.With, ast.ClassDef)):
            pending.extend(node.body)
    return found


POSTGRES = PACKAGE / "state" / "postgres"


def test_psycopg_stays_inside_the_postgres_backend_and_is_imported_lazily() -> None:
    """``psycopg`` is imported by the modules of ``state/postgres/`` only, inside the functions
    that talk to the database; those modules are imported from outside their package only
    inside a function (``open_backend``), so that a local state never loads them."""
    problems = []
    for path in SOURCES:
        where = path.relative_to(PACKAGE.parent)
        inside = path.is_relative_to(POSTGRES)
        for module, line in _imports(path):
            if module.split(".")[0] == "psycopg" and not inside:
                problems.append(f"{where}:{line}: psycopg outside reconciler/state/postgres/")
        for node in _imports_run_on_import(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = _absolute(path, node)
            for name in names:
                if name.split(".")[0] == "psycopg" or (
                    name.startswith("reconciler.state.postgres") and not inside
                ):
                    problems.append(f"{where}:{node.lineno}: {name} imported with the module")
    assert not problems, "\n".join(problems)


def test_the_state_backends_do_not_import_each_other() -> None:
    """``state/local/`` and ``state/postgres/`` share only what stands in ``state/`` itself."""
    packages = {"local": PACKAGE / "state" / "local", "postgres": POSTGRES}
    problems = []
    for name, folder in packages.items():
        other = "reconciler.state." + ({"local", "postgres"} - {name}).pop()
        for path in sorted(folder.rglob("*.py")):
            for module, line in _imports(path):
                if module == other or module.startswith(other + "."):
                    problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module}")
    assert not problems, "\n".join(problems)
