"""``reconciler state push FILE`` / ``state pull``: a local state into a database and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import EXIT_CONFLICT, EXIT_ERROR
from reconciler.models.settings import Settings
from reconciler.state import LocalStateStore, dump_state, open_backend
from reconciler.state.postgres.backend import PostgresBackend
from tests.state.conftest import make_doc

PASSWORD = "push-Pull-pw-93be"
OTHER_LINEAGE = "99999999-2222-3333-4444-555555555555"


@pytest.fixture
def project(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose state lives in the test database (the URL carries a password)."""
    (tmp_path / "reconciler.yaml").write_text("state: ${RECONCILER_STATE_URL}\n", encoding="utf-8")
    url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")
    monkeypatch.setenv("RECONCILER_STATE_URL", url)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(project), *args])
    out, err = capsys.readouterr()
    assert PASSWORD not in out + err
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def stored(pg_url: str, project: Path) -> str:
    return dump_state(open_backend(Settings(project_dir=project, state=pg_url), {}).store.load())


def local_file(tmp_path: Path, name: str, *agents: str, serial: int = 1, **kw: str) -> Path:
    """A local state file at ``serial``."""
    path = tmp_path / name / "agents.json"
    doc = make_doc(*agents, **kw).model_copy(update={"serial": serial - 1})
    LocalStateStore(path).replace(doc)
    return path


def test_push_moves_a_local_state_into_the_database_and_pull_gives_it_back(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = local_file(project, "old", "a", "b")
    code, _, err = run(capsys, project, "state", "push", str(source))
    assert code == 0, err
    assert "postgres:***@" in err
    code, out, err = run(capsys, project, "state", "pull")
    assert code == 0, err
    pulled = json.loads(out)
    original = json.loads(source.read_text(encoding="utf-8"))
    assert pulled["serial"] == original["serial"] + 1
    # The state takes the project's App ID and engine as it enters the project's backend.
    assert (pulled["app_id"], pulled["engine"]) == ("0123456789abcdef0123456789abcdef", "sandbox")
    bound = {"serial": 0, "app_id": None, "engine": None, "version": 0}
    assert {**pulled, **bound} == {**original, **bound}
    assert out == stored(pg_url, project)
    code, out, err = run(capsys, project, "state", "list")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["NAME", "a", "b"]


def test_pull_out_writes_a_local_state_file_with_the_same_serial(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, project, "state", "push", str(local_file(project, "old", "a", serial=4)))
    out_file = project / "back" / "agents.json"
    code, out, err = run(capsys, project, "state", "pull", "--out", str(out_file))
    assert code == 0 and out == "", err
    assert out_file.read_text(encoding="utf-8") == stored(pg_url, project)
    assert LocalStateStore(out_file).load().serial == 5
    code, _, err = run(capsys, project, "state", "pull", "--out", str(out_file))
    assert code == EXIT_ERROR and "exists already" in err


def test_push_refuses_another_lineage_unless_forced(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, project, "state", "push", str(local_file(project, "one", "a")))
    other = local_file(project, "two", "x", serial=50, lineage=OTHER_LINEAGE)
    code, _, err = run(capsys, project, "state", "push", str(other))
    assert code == EXIT_ERROR and "another lineage" in err and "--force" in err
    assert '"a"' in stored(pg_url, project)
    code, _, err = run(capsys, project, "state", "push", "--force", str(other))
    assert code == 0, err
    assert json.loads(stored(pg_url, project))["lineage"] == OTHER_LINEAGE


def test_push_refuses_a_lower_serial_unless_forced(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, project, "state", "push", str(local_file(project, "new", "a", serial=7)))
    older = local_file(project, "old", "a", "b", serial=3)
    code, _, err = run(capsys, project, "state", "push", str(older))
    assert code == EXIT_ERROR and "higher serial (8)" in err
    code, _, err = run(capsys, project, "state", "push", "--force", str(older))
    assert code == 0, err
    doc = json.loads(stored(pg_url, project))
    assert sorted(doc["agents"]) == ["a", "b"] and doc["serial"] == 9


def test_push_takes_the_lock(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = open_backend(Settings(project_dir=project, state=pg_url), {})
    with holder.lock("apply", 0.0) as info:
        code, _, err = run(capsys, project, "state", "push", str(local_file(project, "f", "a")))
    assert code == EXIT_CONFLICT and info.id in err
    assert not holder.store.exists


def test_push_of_a_corrupt_file_is_refused_before_touching_the_database(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = project / "bad.json"
    bad.write_text("{", encoding="utf-8")
    code, _, err = run(capsys, project, "state", "push", str(bad))
    assert code == EXIT_ERROR and "is corrupt" in err
    code, _, err = run(capsys, project, "state", "show")
    assert code == EXIT_ERROR and "no state recorded yet" in err and "postgres:***@" in err


def test_force_unlock_through_the_cli_ends_a_stuck_holder(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = open_backend(Settings(project_dir=project, state=pg_url), {})
    info = stuck.lock("apply", 0.0).acquire(command="apply")
    code, out, err = run(capsys, project, "force-unlock", info.id)
    assert code == 0, err
    assert info.id in out
    with open_backend(Settings(project_dir=project, state=pg_url), {}).lock("apply", 0.0):
        pass


def test_push_of_a_file_of_another_app_id_is_refused_naming_the_file_not_the_database(
    project: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    other = project / "other" / "agents.json"
    doc = make_doc("a").model_copy(update={"app_id": "f" * 32, "engine": "sandbox"})
    LocalStateStore(other).replace(doc)
    code, _, err = run(capsys, project, "state", "push", str(other))
    assert code == EXIT_ERROR
    assert f"refusing to push {other}: the state file belongs to App ID {'f' * 32}" in err
    assert "state key" not in err  # the database's state is not the one that differs
    backend = open_backend(Settings(project_dir=project, state=pg_url), {})
    assert isinstance(backend, PostgresBackend)
    try:
        assert not backend.store.exists
    finally:
        backend.session.close()
