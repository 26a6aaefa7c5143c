"""Running the real entry point (``reconciler.cli.main``) in-process, as the console script does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cli import main

REPO = Path(__file__).resolve().parents[2]


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``reconciler ARGS``."""
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def copy_example(directory: Path) -> Path:
    """The example project (reconciler.yaml and agents.d/) copied into ``directory``."""
    shutil.copy(REPO / "reconciler.yaml", directory)
    shutil.copytree(REPO / "agents.d", directory / "agents.d")
    return directory
