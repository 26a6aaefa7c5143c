"""LocalStateStore: fresh documents, strict reading, atomic stable writes, backups, lineage."""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.models.state import STATE_VERSION, JournalEntry
from reconciler.state import LocalStateStore, dump_state
from tests.state.conftest import make_doc, make_record


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "agents.json"


def test_missing_file_gives_a_fresh_unwritten_doc(path: Path) -> None:
    store = LocalStateStore(path)
    assert not store.exists
    doc = store.load()
    assert doc.version == STATE_VERSION
    assert doc.serial == 0
    assert str(uuid.UUID(doc.lineage)) == doc.lineage
    assert re.fullmatch(r"[0-9a-f]{32}", doc.salt)
    assert doc.agents == {} and doc.journal == []
    assert not path.exists() and not path.parent.exists()
    assert store.load().salt != doc.salt  # random each time until written


def test_write_creates_the_directory_and_returns_the_next_serial(path: Path) -> None:
    store = LocalStateStore(path)
    doc = store.load()
    written = store.write(doc)
    assert written.serial == 1
    assert doc.serial == 0  # the argument is not modified
    assert store.exists
    assert path.read_text(encoding="utf-8") == dump_state(written)
    assert LocalStateStore(path).load() == written


def test_serial_increases_on_every_write(path: Path) -> None:
    store = LocalStateStore(path)
    doc = make_doc("a")
    serials = []
    for _ in range(3):
        doc = store.write(doc)
        serials.append(doc.serial)
    assert serials == [1, 2, 3]
    # writing a stale copy again still moves the serial forward, never back
    stale = make_doc("a")
    assert store.write(stale).serial == 4
    assert LocalStateStore(path).load().serial == 4


def test_format_is_sorted_indented_and_stable(path: Path) -> None:
    store = LocalStateStore(path)
    one = make_doc("b-agent", "a-agent", "c-agent")
    two = make_doc("c-agent", "a-agent", "b-agent")  # same content, other insertion order
    text_one = dump_state(one)
    assert text_one == dump_state(two)
    store.write(one)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert list(data) == sorted(data)
    assert list(data["agents"]) == ["a-agent", "b-agent", "c-agent"]
    assert '\n  "agents": {\n    "a-agent": {\n' in text


def test_non_ascii_is_kept_readable(path: Path) -> None:
    doc = make_doc("a")
    doc.agents["a"].spec["prompt"] = "Bonjour, ça va ? 你好"
    LocalStateStore(path).write(doc)
    assert "Bonjour, ça va ? 你好" in path.read_text(encoding="utf-8")


def test_small_change_gives_a_small_diff(path: Path) -> None:
    store = LocalStateStore(path)
    doc = store.write(make_doc(*[f"agent-{i}" for i in range(20)]))
    before = path.read_text(encoding="utf-8").splitlines()
    doc.agents["agent-7"] = make_record("agent-7", generation=2)
    store.write(doc)
    after = path.read_text(encoding="utf-8").splitlines()
    assert len(before) == len(after)
    changed = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
    assert len(changed) == 3  # serial, generation, wire_name


def test_previous_version_is_kept_as_backup(path: Path) -> None:
    store = LocalStateStore(path)
    backup = path.with_name("agents.json.backup")
    store.write(make_doc("a"))
    assert not backup.exists()
    first_text = path.read_text(encoding="utf-8")
    second = store.write(make_doc("a", "b"))
    assert backup.read_text(encoding="utf-8") == first_text
    assert path.read_text(encoding="utf-8") == dump_state(second)
    third_before = path.read_text(encoding="utf-8")
    store.write(second)
    assert backup.read_text(encoding="utf-8") == third_before
    assert sorted(p.name for p in path.parent.iterdir()) == ["agents.json", "agents.json.backup"]


def test_backup_falls_back_to_a_copy_without_hard_links(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStateStore(path)
    store.write(make_doc("a"))
    first_text = path.read_text(encoding="utf-8")

    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "no hard links here")

    monkeypatch.setattr(os, "link", no_link)
    store.write(make_doc("b"))
    assert path.with_name("agents.json.backup").read_text(encoding="utf-8") == first_text


def test_crash_during_rename_leaves_the_old_file_intact(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStateStore(path)
    store.write(make_doc("a"))
    old = path.read_bytes()
    real_replace = os.replace

    def crashing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == path:
            raise OSError(errno.EIO, "simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(StateError, match=r"cannot write .*agents\.json.*previous state is intact"):
        store.write(make_doc("a", "b"))
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    # the store still works afterwards
    assert store.write(make_doc("a", "b")).serial == 2


def test_crash_before_rename_leaves_the_old_file_intact(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStateStore(path)
    store.write(make_doc("a"))
    old = path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StateError, match="No space left on device"):
        store.write(make_doc("a", "b"))
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def _valid_text() -> str:
    return dump_state(make_doc("a", "b"))


CORRUPT = {
    "empty": (b"", "empty"),
    "blank": (b"  \n", "empty"),
    "truncated": (_valid_text()[: len(_valid_text()) // 2].encode(), r"invalid JSON.*truncated"),
    "garbage": (b"<<<<<<< HEAD\n{}\n", r"invalid JSON: Expecting value at line 1, column 1;"),
    "not-utf8": (b'{"a": "\xff"}', "not UTF-8"),
    "array": (b"[]\n", "expected a JSON object, found list"),
    "missing-fields": (b'{"version": 1}\n', r"lineage: Field required.*salt: Field required"),
    "wrong-type": (
        json.dumps(
            {"version": 1, "lineage": "x", "salt": "s", "serial": "sk-not-a-number"}
        ).encode(),
        r"serial: Input should be a valid integer",
    ),
    "unknown-key": (
        json.dumps({"version": 1, "lineage": "x", "salt": "s", "extra": 1}).encode(),
        r"extra: Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_file_is_a_clear_error_and_is_left_alone(path: Path, case: str) -> None:
    raw, problem = CORRUPT[case]
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    store = LocalStateStore(path)
    with pytest.raises(StateError) as info:
        store.load()
    message = str(info.value)
    assert str(path) in message and "corrupt" in message
    assert re.search(problem, message), message
    assert "left unchanged" in message
    assert "sk-not-a-number" not in message  # no values from the file in messages
    with pytest.raises(StateError, match="refusing to overwrite"):
        store.write(make_doc("a"))
    assert path.read_bytes() == raw
    assert not path.with_name("agents.json.backup").exists()


def test_corrupt_error_points_at_the_backup(path: Path) -> None:
    store = LocalStateStore(path)
    store.write(store.write(make_doc("a")))
    path.write_text('{"version": 1, "lin', encoding="utf-8")
    with pytest.raises(StateError, match=r"previous version is in .*agents\.json\.backup"):
        store.load()


def test_newer_version_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    data = json.loads(_valid_text())
    data["version"] = STATE_VERSION + 1
    data["new_field"] = {"from": "the future"}
    raw = json.dumps(data).encode()
    path.write_bytes(raw)
    store = LocalStateStore(path)
    with pytest.raises(StateError) as info:
        store.load()
    message = str(info.value)
    assert f"{path} was written by a newer reconciler (version {STATE_VERSION + 1}" in message
    assert "upgrade" in message
    with pytest.raises(StateError, match="newer reconciler"):
        store.write(make_doc("a"))
    assert path.read_bytes() == raw


def test_other_lineage_is_never_overwritten(path: Path) -> None:
    LocalStateStore(path).write(make_doc("a", lineage="aaaaaaaa-0000-0000-0000-000000000000"))
    before = path.read_bytes()
    with pytest.raises(StateError, match=r"another state lineage \(aaaaaaaa-.*"):
        LocalStateStore(path).write(make_doc("b", lineage="bbbbbbbb-0000-0000-0000-000000000000"))
    assert path.read_bytes() == before


def test_a_file_replaced_behind_the_store_is_checked_again(path: Path) -> None:
    mine = LocalStateStore(path)
    doc = mine.write(make_doc("a", lineage="aaaaaaaa-0000-0000-0000-000000000000"))
    other = path.with_name("other.json")
    LocalStateStore(other).write(make_doc("z", lineage="ffffffff-0000-0000-0000-000000000000"))
    os.replace(other, path)  # e.g. a git checkout of another project's state
    with pytest.raises(StateError, match="another state lineage"):
        mine.write(doc)


def test_a_newer_serial_written_behind_the_store_is_respected(path: Path) -> None:
    mine = LocalStateStore(path)
    doc = mine.write(make_doc("a"))
    other = LocalStateStore(path)
    other_doc = other.load()
    for _ in range(3):
        other_doc = other.write(other_doc)
    assert mine.write(doc).serial == other_doc.serial + 1


def test_state_file_deleted_between_writes_is_recreated(path: Path) -> None:
    store = LocalStateStore(path)
    doc = store.write(make_doc("a"))
    path.unlink()
    assert store.write(doc).serial == 2
    assert LocalStateStore(path).load().agents.keys() == {"a"}


def test_journal_entries_round_trip(path: Path) -> None:
    doc = make_doc("a")
    doc.journal.append(
        JournalEntry(
            id="p1",
            op="join",
            name="b",
            wire_name="b-1",
            generation=1,
            channel="b",
            created_at=1.5,
            spec={"k": [1, 2]},
            spec_digest="sha256:ff",
            token_mode="auto",
        )
    )
    store = LocalStateStore(path)
    written = store.write(doc)
    assert LocalStateStore(path).load() == written


def test_permissions_of_the_existing_file_are_kept(path: Path) -> None:
    store = LocalStateStore(path)
    store.write(make_doc("a"))
    path.chmod(0o640)
    store.write(make_doc("a"))
    assert path.stat().st_mode & 0o777 == 0o640


def test_writes_do_not_reread_the_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStateStore(path)
    doc = store.write(make_doc(*[f"agent-{i}" for i in range(300)]))
    reads = 0
    real_load = LocalStateStore.load

    def counting_load(self: LocalStateStore) -> object:
        nonlocal reads
        reads += 1
        return real_load(self)

    monkeypatch.setattr(LocalStateStore, "load", counting_load)
    for i in range(30):
        doc.agents[f"agent-{i}"] = make_record(f"agent-{i}", generation=2)
        doc = store.write(doc)
    assert reads == 0
    assert doc.serial == 31


def test_unreadable_path_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "agents.json").mkdir()
    with pytest.raises(StateError, match="is a directory"):
        LocalStateStore(tmp_path / "agents.json").load()
