"""``reconciler state show|list`` and ``reconciler force-unlock``, through the real entry point.

The project settings are faked (``project_settings`` returns defaults rooted at the ``-C``
directory), so these tests cover this module's commands, not settings loading.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_CONFLICT, EXIT_ERROR
from reconciler.models.settings import Settings
from reconciler.models.state import JournalEntry
from reconciler.state import LocalStateStore, StateLock, dump_state
from tests.state.conftest import HolderFactory, make_doc, make_record


def _settings(ctx: click.Context) -> Settings:
    return Settings(project_dir=ctx.find_root().obj["directory"])


@pytest.fixture(autouse=True)
def fake_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    try:
        importlib.import_module("reconciler.cli.common")
    except ModuleNotFoundError:  # not written yet: stand in for it
        fake = types.ModuleType("reconciler.cli.common")
        fake.project_settings = _settings  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "reconciler.cli.common", fake)
        monkeypatch.delitem(sys.modules, "reconciler.cli.state", raising=False)
    cli_state = importlib.import_module("reconciler.cli.state")
    monkeypatch.setattr(cli_state, "project_settings", _settings)
    yield


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def _state_path(project: Path) -> Path:
    return project / "state" / "agents.json"


def test_state_show_prints_the_document_as_stored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalStateStore(_state_path(project)).write(make_doc("b", "a"))
    code, out, err = run(capsys, "-C", str(project), "state", "show")
    assert code == 0, err
    assert out == _state_path(project).read_text(encoding="utf-8")
    assert json.loads(out)["serial"] == 1


def test_state_show_without_state_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "-C", str(project), "state", "show")
    assert code == EXIT_ERROR
    assert out == ""
    assert "no state recorded yet" in err
    assert not _state_path(project).exists()


def test_state_show_of_a_corrupt_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _state_path(project).parent.mkdir()
    _state_path(project).write_text("{", encoding="utf-8")
    code, out, err = run(capsys, "-C", str(project), "state", "show")
    assert code == EXIT_ERROR and out == ""
    assert "is corrupt" in err


def test_state_list_prints_a_header_row_and_one_row_per_record(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = make_doc("support-en", "a")
    doc.agents["support-en"] = make_record("support-en", generation=12, started_at=1_795_000_000)
    doc.journal.append(
        JournalEntry(
            id="p", op="leave", name="a", wire_name="a-1", generation=1, channel="a", created_at=1
        )
    )
    LocalStateStore(_state_path(project)).write(doc)
    code, out, err = run(capsys, "-C", str(project), "state", "list")
    assert code == 0, err
    assert out.splitlines() == [
        "NAME        ID          GENERATION  CHANNEL     STARTED",
        "a           AA          1           a           2026-09-21T14:13:20Z",
        "support-en  ASUPPORTEN  12          support-en  2026-11-18T11:06:40Z",
    ]
    assert "1 engine call in flight" in err


def test_state_list_format_json_lists_every_record(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = make_doc("support-en", "a")
    LocalStateStore(_state_path(project)).write(doc)
    code, out, err = run(capsys, "-C", str(project), "state", "list", "--format", "json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["format_version"] == "1.1"
    assert [(r["name"], r["kind"], r["id"]) for r in listed["resources"]] == [
        ("a", "Agent", doc.agents["a"].agent_id),
        ("support-en", "Agent", doc.agents["support-en"].agent_id),
    ]
    assert listed["journal_entries"] == 0


def test_state_list_without_state(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-C", str(project), "state", "list")
    assert code == 0
    assert out == ""
    assert "No state recorded yet" in err


def test_state_list_of_an_empty_state(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    LocalStateStore(_state_path(project)).write(make_doc())
    code, out, _ = run(capsys, "-C", str(project), "state", "list")
    assert (code, out) == (0, "")


def test_force_unlock_clears_a_killed_holders_lock(
    project: Path, capsys: pytest.CaptureFixture[str], holder: HolderFactory
) -> None:
    other = holder(_state_path(project))
    other.kill()
    code, out, err = run(capsys, "-C", str(project), "force-unlock", "wrong-id")
    assert code == EXIT_ERROR
    assert "does not match" in err
    code, out, err = run(capsys, "-C", str(project), "force-unlock", other.lock_id)
    assert code == 0, err
    assert out.startswith(f"Lock {other.lock_id} removed; it was held by ")
    assert f"(pid {other.proc.pid}) running 'apply'" in out


def test_force_unlock_refuses_a_live_holder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with StateLock(_state_path(project), command="apply") as info:
        code, out, err = run(capsys, "-C", str(project), "force-unlock", info.id)
        assert code == EXIT_CONFLICT
        assert out == ""
        assert "still running" in err and info.id in err


def test_state_show_output_matches_dump_state(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = LocalStateStore(_state_path(project)).write(make_doc("x"))
    _, out, _ = run(capsys, "-C", str(project), "state", "show")
    assert out == dump_state(written)


def _real_project(project: Path) -> Path:
    root = Path(__file__).resolve().parents[2]
    (project / "reconciler.yaml").write_bytes(
        (root / "tests" / "single_environment.yaml").read_bytes()
    )
    (project / "agents.d").mkdir()
    return project


@pytest.mark.parametrize("value", ["nan", "-1", "-0.5"])
def test_a_lock_timeout_that_is_no_number_of_seconds_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    # Regression: nan waited for ever for a held lock (no comparison with nan is true), and a
    # negative wait was taken for none
    _real_project(project)
    code, _, err = run(capsys, "-C", str(project), "state", "rm", "gone", "--lock-timeout", value)
    assert code == EXIT_ERROR
    assert "--lock-timeout" in err and value in err
    assert not (project / "state").exists()


def test_an_infinite_lock_timeout_is_accepted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalStateStore(_state_path(_real_project(project))).write(make_doc("a"))
    code, _, err = run(capsys, "-C", str(project), "state", "rm", "gone", "--lock-timeout", "inf")
    assert code == EXIT_ERROR
    assert "state records no agent 'gone'" in err
