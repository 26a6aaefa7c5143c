"""The local store's write log: within ``write_log()`` a write appends only what changed, every
read replays the log (writing nothing), a torn last line is ignored, and the state file is
rewritten once, at the end."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.apply.run import AgentChange, apply_agent_changes
from reconciler.cli import main
from reconciler.errors import SettingsError, StateError
from reconciler.models.state import JournalEntry, StateDoc
from reconciler.state import LocalStateStore, dump_state
from reconciler.state import document as document_module
from reconciler.state.local import store as store_module
from reconciler.state.local import wal as wal_module
from tests.state.conftest import make_doc, make_record


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "agents.json"


def wal_of(path: Path) -> Path:
    return path.with_name("agents.json.wal")


def renamed(doc: StateDoc, name: str, generation: int) -> StateDoc:
    return doc.model_copy(
        update={"agents": {**doc.agents, name: make_record(name, generation=generation)}}
    )


def entry(name: str, n: int) -> JournalEntry:
    return JournalEntry(
        id=f"{name}-{n}",
        op="join",
        name=name,
        wire_name=f"{name}-{n}",
        generation=n,
        channel=name,
        created_at=1.0,
        spec={"channel": name, "prompt": "x" * 200},
    )


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_a_write_in_a_write_log_appends_only_the_records_it_changed(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc(*(f"agent-{i:03d}" for i in range(200))))
    document = path.read_bytes()
    one_record = len(make_record("agent-007").model_dump_json())
    with store.write_log():
        sizes = []
        for generation in (2, 3, 4):
            doc = store.write(renamed(doc, "agent-007", generation))
            sizes.append(wal_of(path).stat().st_size)
            assert path.read_bytes() == document  # the state file is not rewritten
        growth = [b - a for a, b in zip([0, *sizes], sizes, strict=False)]
        assert all(one_record < step < one_record + 300 for step in growth)
        assert LocalStateStore(path).load() == doc  # what a reader sees meanwhile


def test_an_applys_changes_are_logged_from_what_it_changed_not_by_comparing_records(
    path: Path,
) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc(*(f"agent-{i:03d}" for i in range(50))))
    with store.write_log():
        # As apply changes the state: records put and dropped, a journal entry settled.
        doc = store.write(apply_agent_changes(doc, [AgentChange(add=(entry("new", 1),))]))
        derived = apply_agent_changes(doc, [AgentChange(put=(make_record("agent-001", 2),))])
        doc = store.write(derived)
        # The written tables are what the next change is derived from: only its names are
        # looked at (a record altered behind the table's back is not, as no code does that).
        dict.__setitem__(doc.agents, "agent-040", make_record("agent-040", 7))
        doc = store.write(
            apply_agent_changes(
                doc,
                [AgentChange(settle=frozenset({"new-1"}), put=(make_record("new"),)),
                 AgentChange(drop=frozenset({"agent-002"}))],
            )
        )  # fmt: skip
        lines = [json.loads(line) for line in wal_of(path).read_text("utf-8").splitlines()]
        assert [sorted(line["agents"]) for line in lines] == [
            [],
            ["agent-001"],
            ["agent-002", "new"],
        ]
        assert lines[2]["agents"]["agent-002"] is None
        assert lines[2]["pending"] == []
        replayed = LocalStateStore(path).load()
        assert replayed.agents["agent-040"].generation == 1
        assert sorted(replayed.agents) == sorted(doc.agents)


def test_the_state_file_is_rewritten_once_when_the_write_log_ends(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    first = store.write(make_doc("a", "b"))
    with store.write_log():
        doc = store.write(renamed(first, "a", 2))
        doc = store.write(doc.model_copy(update={"agents": {"a": doc.agents["a"]}}))
        doc = store.write(doc.model_copy(update={"journal": [entry("c", 1)]}))
    assert not wal_of(path).exists()
    assert path.read_text(encoding="utf-8") == dump_state(doc)
    assert path.with_name("agents.json.backup").read_text(encoding="utf-8") == dump_state(first)
    assert LocalStateStore(path).load() == doc
    assert doc.serial == first.serial + 3


def test_records_logged_during_a_run_are_not_rendered_again_when_it_ends(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    rendered: list[object] = []
    real = document_module._pretty

    def counting(value: object) -> str:
        rendered.append(value)
        return real(value)

    monkeypatch.setattr(document_module, "_pretty", counting)
    with store.write_log():
        for name in ("b", "c", "d"):
            doc = store.write(apply_agent_changes(doc, [AgentChange(put=(make_record(name),))]))
        during = len(rendered)
        assert during > 0  # each record's text is made as it is logged
    assert [v for v in rendered[during:] if isinstance(v, dict) and "agent_id" in v] == []
    assert path.read_text(encoding="utf-8") == dump_state(doc)


def test_unchanged_journal_entries_are_logged_by_their_id_only(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a").model_copy(update={"journal": [entry("a", 2)]}))
    with store.write_log():
        doc = store.write(doc.model_copy(update={"journal": [*doc.journal, entry("b", 1)]}))
        doc = store.write(renamed(doc, "a", 2))
        lines = wal_of(path).read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["pending"][0] == "a-2"
        assert json.loads(lines[1])["pending"] == ["a-2", "b-1"]
        assert LocalStateStore(path).load() == doc


def test_a_torn_last_line_is_ignored_and_cut_by_the_next_write(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    with store.write_log():
        doc = store.write(renamed(doc, "a", 2))
        durable = doc
        line = wal_of(path).read_bytes()
        with wal_of(path).open("ab") as log:  # a crash in the middle of the next append
            log.write(line[: len(line) // 2])
        assert LocalStateStore(path).load() == durable
        reader = LocalStateStore(path)
        reader.load()
        with reader.write_log():
            doc = reader.write(renamed(durable, "a", 3))
            assert LocalStateStore(path).load() == doc
    assert LocalStateStore(path).load() == doc


def test_a_log_left_by_a_compaction_that_stopped_halfway_is_skipped(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    with store.write_log():
        doc = store.write(renamed(doc, "a", 2))
        doc = store.write(renamed(doc, "a", 3))
        left = wal_of(path).read_bytes()
    wal_of(path).write_bytes(left)  # the state file was rewritten, the log not yet removed
    again = LocalStateStore(path)
    assert again.load() == doc
    with again.write_log():
        final = again.write(renamed(doc, "a", 4))
    assert LocalStateStore(path).load() == final
    assert final.serial == doc.serial + 1


def test_a_second_process_sees_the_logged_state(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    with store.write_log():
        doc = store.write(renamed(doc, "b", 1))
        shown = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from reconciler.state import LocalStateStore; "
                "d = LocalStateStore(sys.argv[1]).load(); print(d.serial, sorted(d.agents))",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    assert shown.stdout.strip() == f"{doc.serial} ['a', 'b']"


def test_reading_a_state_with_a_log_writes_nothing(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    log = store.write_log()
    log.__enter__()  # the run is killed before the log ends: nothing compacts it
    doc = store.write(renamed(doc, "a", 2))
    before = snapshot(path.parent)
    for _ in range(2):
        assert LocalStateStore(path).load() == doc
    assert snapshot(path.parent) == before


def test_a_log_past_its_bound_is_compacted_during_the_run(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "LOG_BOUND", 0)
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc(*(f"agent-{i}" for i in range(5))))
    seen = []
    with store.write_log():
        for generation in range(2, 40):
            doc = store.write(renamed(doc, "agent-1", generation))
            seen.append(wal_of(path).exists())
            assert wal_of(path).stat().st_size <= 2 * path.stat().st_size if seen[-1] else True
        assert not all(seen) and any(seen)
    assert LocalStateStore(path).load() == doc


def test_a_failed_append_leaves_the_log_as_it_was(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    with store.write_log():
        doc = store.write(renamed(doc, "a", 2))
        size = wal_of(path).stat().st_size
        real_fsync = os.fsync

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(wal_module.os, "fsync", full)
        with pytest.raises(StateError, match="No space left on device; the previous state"):
            store.write(renamed(doc, "a", 3))
        assert wal_of(path).stat().st_size == size
        assert LocalStateStore(path).load() == doc
        monkeypatch.setattr(wal_module.os, "fsync", real_fsync)
        doc = store.write(renamed(doc, "a", 4))
    assert LocalStateStore(path).load() == doc


def test_a_log_line_out_of_sequence_is_refused_as_corrupt(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    with store.write_log():
        store.write(renamed(doc, "a", 2))
        line = json.loads(wal_of(path).read_text(encoding="utf-8"))
    line["serial"] += 5
    wal_of(path).write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(StateError, match="does not follow the state file"):
        LocalStateStore(path).load()
    line.update(serial=doc.serial + 2, agents=[1])
    wal_of(path).write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(StateError, match=r"corrupt: line 1"):
        LocalStateStore(path).load()


def test_a_log_without_its_state_file_is_refused(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    log = store.write_log()
    log.__enter__()
    store.write(renamed(doc, "a", 2))
    path.unlink()
    with pytest.raises(StateError, match="is missing but its write log"):
        LocalStateStore(path).load()


def test_outside_a_write_log_every_write_rewrites_the_document(path: Path) -> None:
    store = LocalStateStore(path, log_from_bytes=0)
    doc = store.write(make_doc("a"))
    doc = store.write(renamed(doc, "a", 2))
    assert not wal_of(path).exists()
    assert path.read_text(encoding="utf-8") == dump_state(doc)


def test_read_only_commands_replay_a_killed_runs_log_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "reconciler.yaml").write_bytes(
        (root / "tests" / "single_environment.yaml").read_bytes()
    )
    (tmp_path / "agents.d").mkdir()
    store = LocalStateStore(tmp_path / "state" / "agents.json", log_from_bytes=0)
    doc = store.write(make_doc("a"))
    log = store.write_log()  # kept: a dropped one would compact when collected
    log.__enter__()  # killed before the log is compacted
    store.write(renamed(doc, "logged-only", 1))
    assert wal_of(store.path).exists()
    before = snapshot(tmp_path / "state")
    for args in (["state", "list"], ["plan", "--no-refresh"], ["state", "show"]):
        with pytest.raises(SystemExit):
            main(["-C", str(tmp_path), *args])
        assert "logged-only" in capsys.readouterr().out
    assert snapshot(tmp_path / "state") == before


@pytest.mark.parametrize(
    "args",
    [
        ["state", "list"],
        ["state", "list", "--format", "json"],
        ["state", "show"],
        ["state", "pull"],
        ["state", "rebind"],
        ["state", "push", "{tmp}/other.json"],
        ["plan", "--no-refresh"],
    ],
)
def test_every_state_command_refuses_a_log_whose_state_file_was_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "reconciler.yaml").write_bytes(
        (root / "tests" / "single_environment.yaml").read_bytes()
    )
    (tmp_path / "agents.d").mkdir()
    LocalStateStore(tmp_path / "other.json").write(make_doc("other"))
    store = LocalStateStore(tmp_path / "state" / "agents.json", log_from_bytes=0)
    doc = store.write(make_doc("a"))
    log = store.write_log()  # kept: a dropped one would compact when collected
    log.__enter__()  # killed before the log is compacted
    store.write(renamed(doc, "logged-only", 1))
    assert wal_of(store.path).exists()
    (tmp_path / "state" / "agents.json").unlink()
    before = snapshot(tmp_path / "state")
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(tmp_path), *(a.format(tmp=tmp_path) for a in args)])
    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert "is missing but its write log" in err
    assert "logged-only" not in out and "no state recorded yet" not in (out + err).lower()
    after = snapshot(tmp_path / "state")
    after.pop("agents.json.lock", None)  # what a writing command locks: empty once released
    assert after == before


def test_a_small_state_file_is_rewritten_whole_even_within_a_write_log(path: Path) -> None:
    store = LocalStateStore(path)
    doc = store.write(make_doc("a", "b"))
    with store.write_log():
        doc = store.write(renamed(doc, "a", 2))
        assert not wal_of(path).exists()
        assert json.loads(path.read_text())["serial"] == doc.serial  # the file alone is current


def test_a_state_file_past_the_threshold_is_written_through_the_log(path: Path) -> None:
    LocalStateStore(path).write(make_doc("a", "b"))
    store = LocalStateStore(path, log_from_bytes=path.stat().st_size)
    with store.write_log():
        before = path.read_bytes()
        doc = store.write(renamed(store.load(), "a", 2))
        assert wal_of(path).exists()
        assert path.read_bytes() == before
        assert LocalStateStore(path).load() == doc
    assert not wal_of(path).exists()
    assert LocalStateStore(path).load() == doc


@pytest.mark.parametrize("value", ["-1", "lots", "1.5"])
def test_a_bad_log_threshold_in_the_environment_is_a_settings_error(value: str) -> None:
    from reconciler.state.local.backend import LOG_FROM_ENV, log_threshold

    with pytest.raises(SettingsError, match=LOG_FROM_ENV):
        log_threshold({LOG_FROM_ENV: value})
    assert log_threshold({LOG_FROM_ENV: "0"}) == 0
    assert log_threshold({}) > 0
