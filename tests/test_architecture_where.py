"""docs/architecture.md's "Where to find" and "Rules with one home" tables name modules and names
that exist: every backticked ``path.py`` (or ``dir/``) in them is a file (or folder) of the
package, and every name in the parentheses right after a path in their module column
(``plan/agents.py`` (``plan_agent``), dotted ``Plan.operation`` too) is defined in that module."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"
DOC = ROOT / "docs" / "architecture.md"

# A backticked path, optionally followed by a parenthesis of backticked names.
_ENTRY = re.compile(r"`([A-Za-z0-9_/]+(?:\.py|/))`(?:\s*\(([^)]*)\))?")
_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)`")


def _cells(section: str, column: int) -> list[str]:
    """One column of each row of the table under the doc's heading ``section``."""
    text = DOC.read_text(encoding="utf-8").split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    cells = []
    for line in text.splitlines():
        parts = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(parts) > column and set(parts[0]) - {"-"}:
            cells.append(parts[column])
    return cells[1:]  # the header's


def entries(cell: str) -> list[tuple[Path, list[str]]]:
    """``(path, names)`` of every path of a cell. A bare file name (``errors.py``) lives in
    the folder of the last path with a folder named before it in the cell, else at the top;
    a folder's parenthesis names its files."""
    found: list[tuple[Path, list[str]]] = []
    folder = PACKAGE
    for match in _ENTRY.finditer(cell):
        written, inside = match.group(1), match.group(2) or ""
        names = _NAME.findall(inside)
        if written.endswith("/"):
            base = PACKAGE / written
            found.append((base, []))
            found.extend((base / name, []) for name in re.findall(r"`([A-Za-z0-9_]+\.py)`", inside))
            continue
        if "/" in written:
            path = PACKAGE / written
            folder = path.parent
        else:
            path = folder / written if (folder / written).exists() else PACKAGE / written
        found.append((path, names))
    return found


@cache
def _defined(path: Path) -> dict[str, set[str]]:
    """Top-level names of a module, each with the names its class body defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            members: set[str] = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    members.update(t.id for t in item.targets if isinstance(t, ast.Name))
            names[node.name] = members
        elif isinstance(node, ast.Assign):
            names.update((t.id, set()) for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = set()
    return names


# "Where to find": the module column, names included; "Rules with one home": the module column,
# names included, and the paths of its "used by" column (whose names are not all of one path).
CELLS = _cells("Where to find", 1) + _cells("Rules with one home", 1)
USERS = _cells("Rules with one home", 2)
ENTRIES = sorted(
    {(path, name) for cell in CELLS for path, names in entries(cell) for name in ["", *names]}
    | {(path, "") for cell in USERS for path, _ in entries(cell)}
)


def test_the_tables_are_read_from_the_doc() -> None:
    assert len(CELLS) >= 50 and len(USERS) >= 8
    assert (PACKAGE / "plan" / "agents.py", "plan_agent") in ENTRIES
    assert (PACKAGE / "models/live.py", "ACTIVE_STATES") not in ENTRIES
    assert (PACKAGE / "models/live.py", "ACTIVE_STATUSES") in ENTRIES
    assert (PACKAGE / "engine/scrubbing.py", "") in ENTRIES


def test_a_bare_file_name_lives_beside_the_last_folder_named() -> None:
    cell = "`engine/platform/client.py`; its `rules.py` (`X`), exceptions in `errors.py` (`Y`)"
    assert entries(cell) == [
        (PACKAGE / "engine/platform/client.py", []),
        (PACKAGE / "engine/platform/rules.py", ["X"]),
        (PACKAGE / "errors.py", ["Y"]),
    ]


def test_a_missing_name_is_found_missing() -> None:
    assert "no_such_function" not in _defined(PACKAGE / "plan" / "agents.py")
    assert "wire_name" not in _defined(PACKAGE / "apply/records.py")  # imported there, not defined


def _id(value: object) -> str:
    return str(value).replace(f"{PACKAGE}/", "")


@pytest.mark.parametrize(("path", "name"), ENTRIES, ids=_id)
def test_every_module_and_name_in_where_to_find_exists(path: Path, name: str) -> None:
    assert path.exists(), f"docs/architecture.md names {path.relative_to(ROOT)}: no such file"
    if not name:
        return
    top, _, member = name.partition(".")
    defined = _defined(path)
    if member:
        assert member in defined.get(top, set()), f"{path.relative_to(ROOT)}: {top} has no {member}"
    else:
        # A module-level name, or a method of one of its classes (``_write_rows``).
        assert top in defined or any(top in members for members in defined.values()), (
            f"{path.relative_to(ROOT)} defines no {top}"
        )
