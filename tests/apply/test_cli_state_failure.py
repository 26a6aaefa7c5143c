"""``reconciler apply`` when the state cannot be written midway (disk full): no traceback, a
line per agent, a summary of what reached the engine, exit 1; the next apply settles it all."""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.state import LocalStateStore
from reconciler.state.local.wal import WriteLog
from tests.apply.harness import MANIFEST_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
N = 6
MANIFEST = MANIFEST_TEMPLATE.replace("properties:", "token: auto\nproperties:", 1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "tests" / "single_environment.yaml", tmp_path / "reconciler.yaml")
    (tmp_path / "agents.d").mkdir()
    for i in range(N):
        name = f"agent-{i}"
        (tmp_path / "agents.d" / f"{name}.yaml").write_text(MANIFEST.format(name=name))
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], project: Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(project), "apply", "--auto-approve", "--parallelism", "2"])
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_a_disk_that_fills_up_mid_apply_gives_an_account_not_a_traceback(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real, real_append = LocalStateStore._replace, WriteLog.append
    writes = {"left": 3}

    def count() -> None:
        if writes["left"] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        writes["left"] -= 1

    def filling(self: LocalStateStore, data: bytes) -> os.stat_result:
        count()
        return real(self, data)

    def filling_log(self: WriteLog, line: str, size: int) -> tuple[int, int, int, int]:
        count()
        return real_append(self, line, size)

    monkeypatch.setattr(LocalStateStore, "_replace", filling)
    monkeypatch.setattr(WriteLog, "append", filling_log)
    code, out, err = _run(capsys, project)
    assert code == 1
    assert "Traceback" not in out + err and "never retrieved" not in out + err
    summary = next(line for line in out.splitlines() if line.startswith("Apply stopped early: "))
    assert "No space left on device" in summary
    assert "done on the engine but not recorded in state: " in summary
    # every agent has its line (done or failed), or is counted as not attempted
    with_a_line = {i for i in range(N) if re.search(rf"^agent-{i}: ", out, re.MULTILINE)}
    skipped = re.search(r"; (\d+) not attempted", summary)
    assert len(with_a_line) + (int(skipped.group(1)) if skipped else 0) == N, out
    assert "Error: these actions failed:" in err

    monkeypatch.setattr(LocalStateStore, "_replace", real)  # space again
    monkeypatch.setattr(WriteLog, "append", real_append)
    code, out, err = _run(capsys, project)
    assert code == 0, out + err
    state = LocalStateStore(project / "state" / "agents.json").load()
    assert sorted(state.agents) == [f"agent-{i}" for i in range(N)] and state.journal == []
