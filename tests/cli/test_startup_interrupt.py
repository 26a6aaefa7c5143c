"""Ctrl-C at any moment of start-up ends the command with exit 130, never by signal 2.

Real processes, and no race: a ``sitecustomize`` module (on ``PYTHONPATH``) adds an audit hook
that sends the process SIGINT itself when the N-th module import after the package's begins.
Python runs the signal's handler at the next bytecode of the main thread, so each N interrupts
the same point of start-up on every run. A first run counts the imports (SIGINT never sent),
then start-up is interrupted at the first imports one by one and at points spread over the rest
(the CLI's own modules, click, pydantic, httpx, the sandbox, the command's lazy imports).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HOOK = """\
import os, signal, sys

_at = int(os.environ["STARTUP_SIGINT_AT"])
_after = os.environ["STARTUP_SIGINT_AFTER"]
_seen = -1  # -1: the entry module is not being imported yet


def _hook(event, args):
    global _seen
    if event != "import":
        return
    if _seen < 0:
        if args[0] == _after:
            _seen = 0
        return
    _seen += 1
    if _seen == _at:
        os.kill(os.getpid(), signal.SIGINT)


def _count():
    with open(os.environ["STARTUP_SIGINT_COUNT"], "w") as out:
        out.write(str(_seen))


sys.addaudithook(_hook)
if os.environ.get("STARTUP_SIGINT_COUNT"):
    import atexit
    atexit.register(_count)
"""


def _console_script(path: Path) -> Path:
    """The ``reconciler`` console script as an installer writes it, from pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    scripts = text.split("[project.scripts]", 1)[1]
    found = re.search(r'^reconciler = "([\w.]+):(\w+)"$', scripts, re.MULTILINE)
    assert found is not None, "no reconciler entry in [project.scripts]"
    module, function = found.groups()
    path.write_text(
        f"import sys\nfrom {module} import {function}\n"
        f"if __name__ == '__main__':\n    sys.exit({function}())\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    shutil.copytree(ROOT / "agents.d", directory / "agents.d")
    shutil.copy(ROOT / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
    return directory


def _run(
    command: list[str], project: Path, hooks: Path, after: str, at: int, count: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hooks), str(ROOT)]),
        "STARTUP_SIGINT_AT": str(at),
        "STARTUP_SIGINT_AFTER": after,
        "OPENAI_API_KEY": "sk-startup-test",
    }
    env.pop("STARTUP_SIGINT_COUNT", None)
    if count is not None:
        env["STARTUP_SIGINT_COUNT"] = str(count)
    return subprocess.run(
        [*command, "-C", str(project), "plan"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _points(total: int) -> list[int]:
    """The first six imports one by one, then about 12 spread over the rest, and the last."""
    spread = range(7, total, max(1, (total - 6) // 12))
    return sorted({*range(1, min(total, 6) + 1), *spread, total})


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["python -m reconciler", "console script"])
def test_ctrl_c_at_any_point_of_start_up_exits_130(
    entry: str, project: Path, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    if entry == "console script":
        command = [sys.executable, str(_console_script(tmp_path / "reconciler"))]
    else:
        command = [sys.executable, "-m", "reconciler"]
    # Counted from the import of the package: the script imports reconciler.__main__, whose
    # first import event is its package's; ``-m`` imports the package, then runs __main__.
    after = "reconciler"
    count = tmp_path / "count"
    calm = _run(command, project, hooks, after, 0, count)
    assert calm.returncode in (0, 2), calm.stderr  # a plan, not interrupted
    total = int(count.read_text(encoding="utf-8"))
    assert total > 100, total  # the hook saw the start-up imports (click, pydantic, httpx, ...)
    for at in _points(total):
        done = _run(command, project, hooks, after, at)
        assert done.returncode == 130, (at, done.returncode, done.stderr[-2000:])
        assert "Interrupted." in done.stderr, (at, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (at, done.stderr[-2000:])
