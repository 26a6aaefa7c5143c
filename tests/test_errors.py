"""The exit codes of errors.py's table are the exit codes of the classes: every error class of
the package (wherever it is defined) exits as the table says, and the CLI exits with it."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import reconciler
from reconciler import errors
from reconciler.errors import EXIT_ERROR, ReconcilerError


def _table() -> dict[int, tuple[str, str]]:
    """Exit code -> the constant and the classes cells of its row in errors.py's docstring."""
    rows: dict[int, tuple[str, str]] = {}
    for line in (errors.__doc__ or "").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows[int(cells[0])] = (cells[1], cells[3])
    return rows


def _every_error_class() -> set[type[ReconcilerError]]:
    for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        if module.name != "reconciler.__main__":
            importlib.import_module(module.name)
    found: set[type[ReconcilerError]] = set()
    todo: list[type[ReconcilerError]] = [ReconcilerError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


TABLE = _table()


def test_the_table_names_every_exit_code_constant() -> None:
    constants = {getattr(errors, name): name for name in dir(errors) if name.startswith("EXIT_")}
    assert set(TABLE) == set(constants)
    for code, name in constants.items():
        row = next(
            line for line in (errors.__doc__ or "").splitlines() if line.startswith(f"| {code} |")
        )
        assert f"``{name}``" in row


@pytest.mark.parametrize("cls", sorted(_every_error_class(), key=lambda c: c.__qualname__),
                         ids=lambda c: c.__qualname__)  # fmt: skip
def test_each_error_class_exits_as_the_table_says(cls: type[ReconcilerError]) -> None:
    listed = {
        code for code, (_, cell) in TABLE.items() if cls.__name__ in re.findall(r"``(\w+)``", cell)
    }
    expected = listed.pop() if listed else EXIT_ERROR
    assert not listed, f"{cls.__name__} is in more than one row"
    assert cls.exit_code == expected


def test_only_the_classes_the_table_names_leave_the_default_exit_code() -> None:
    named = {name for _, cell in TABLE.values() for name in re.findall(r"``(\w+)``", cell)}
    assert named == {cls.__name__ for cls in _every_error_class() if cls.exit_code != EXIT_ERROR}


def test_the_cli_exits_only_with_the_table_s_codes() -> None:
    """Every code the CLI exits with is a constant of the table (a literal ``sys.exit(143)``
    would be an exit code no table documents)."""
    from pathlib import Path

    cli = Path(reconciler.__file__).parent / "cli"
    literals = [
        f"{path.name}: sys.exit({code})"
        for path in sorted(cli.glob("*.py"))
        for code in re.findall(r"sys\.exit\((\d+)\)", path.read_text(encoding="utf-8"))
    ]
    assert literals == []
    assert {130, 143} <= set(TABLE)
