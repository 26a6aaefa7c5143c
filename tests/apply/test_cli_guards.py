"""Options that make no sense for a command are refused before anything is read or locked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_destroy_refuses_replace(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(tmp_path), "destroy", "--replace", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "--replace restarts agents; it has no meaning for destroy" in done.stderr
    assert not (tmp_path / "state").exists()
