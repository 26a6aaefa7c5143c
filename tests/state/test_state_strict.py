"""Strict reading of the state document: wrong types, duplicate keys and inconsistent records are
refused with the file and the field named, and the file is left alone (never rewritten)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import EXIT_ERROR, StateError
from reconciler.state import LocalStateStore, dump_state
from tests.state.conftest import make_doc


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "agents.json"


def _valid() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(dump_state(make_doc("a", "b")))
    return data


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[key] = value

    return change


def _set_record(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["agents"]["a"][field] = value

    return change


def _rename_record(data: dict[str, Any]) -> None:
    data["agents"]["a"]["name"] = "b"


def _pending_with_string_generation(data: dict[str, Any]) -> None:
    data["pending"] = [
        {
            "id": "p1",
            "op": "join",
            "name": "a",
            "wire_name": "a-2",
            "generation": "2",
            "channel": "a",
            "created_at": 1.0,
        }
    ]


def _set_resource_id(value: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["resources"] = {
            "PhoneNumber/line": {
                "kind": "PhoneNumber",
                "name": "line",
                "id": value,
                "spec": {"number": "+14155550100"},
                "spec_digest": "sha256:1",
                "created_at": 1.0,
            }
        }

    return change


BAD = {
    "version-as-string": (_set("version", "2"), r"version: Input should be a valid integer"),
    "version-as-bool": (_set("version", True), r"version: Input should be a valid integer"),
    "version-zero": (_set("version", 0), r"version: Input should be greater than or equal to 1"),
    "serial-as-string": (_set("serial", "7"), r"serial: Input should be a valid integer"),
    "serial-negative": (_set("serial", -1), r"serial: Input should be greater than or equal to 0"),
    "serial-as-float": (_set("serial", 7.0), r"serial: Input should be a valid integer"),
    "lineage-not-a-uuid": (_set("lineage", "my-project"), r"lineage: .*must be a UUID"),
    # an empty lineage tags no wire name: two such states would take each other's agents
    "lineage-empty": (_set("lineage", ""), r"lineage: .*must be a UUID"),
    # a resource id is a URL path segment: empty or a dot segment, it names the collection or
    # its parent (DELETE .../phone-numbers/), never the resource recorded
    "resource-id-empty": (_set_resource_id(""), r"resources\.PhoneNumber/line\.id: "),
    "resource-id-dot": (_set_resource_id("."), r"resources\.PhoneNumber/line\.id: "),
    "resource-id-dot-dot": (_set_resource_id(".."), r"resources\.PhoneNumber/line\.id: "),
    "salt-as-number": (_set("salt", 12), r"salt: Input should be a valid string"),
    "record-generation-as-string": (
        _set_record("generation", "1"),
        r"agents\.a\.generation: Input should be a valid integer",
    ),
    "record-started-at-as-string": (
        _set_record("started_at", "1790000000"),
        r"agents\.a\.started_at: Input should be a valid number",
    ),
    "record-name-differs-from-key": (
        _rename_record,
        r"agents: .*the record under 'a' is named 'b'",
    ),
    "pending-generation-as-string": (
        _pending_with_string_generation,
        r"pending\.0\.generation: Input should be a valid integer",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_state_document_with_a_wrong_value_is_refused_and_left_alone(
    path: Path, case: str
) -> None:
    change, problem = BAD[case]
    data = _valid()
    change(data)
    raw = json.dumps(data, indent=2).encode()
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    store = LocalStateStore(path)
    with pytest.raises(StateError) as info:
        store.load()
    message = str(info.value)
    assert f"state file {path} is corrupt" in message
    assert info.value.exit_code == EXIT_ERROR
    assert re.search(problem, message), message
    with pytest.raises(StateError, match="refusing to overwrite"):
        store.write(make_doc("a"))
    assert path.read_bytes() == raw


def test_a_string_version_is_never_rewritten_as_a_number(path: Path) -> None:
    """Regression: ``"version": "2"`` was read as 2 and written back, after which every command
    refused the state as written by a newer reconciler."""
    data = _valid()
    data["version"] = "1"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StateError, match=r"version: Input should be a valid integer"):
        LocalStateStore(path).load()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == "1"


@pytest.mark.parametrize(
    "text, key",
    [
        ('{"version": 1, "version": 1, "lineage": "x", "salt": "s"}', "version"),
        (
            dump_state(make_doc("a")).replace('"channel": "a",', '"channel": "a", "channel": "z",'),
            "channel",
        ),
    ],
    ids=["top-level", "inside-a-record"],
)
def test_a_key_repeated_in_one_object_is_refused(path: Path, text: str, key: str) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StateError) as info:
        LocalStateStore(path).load()
    assert f"{path} is corrupt: the key {key!r} appears twice in one object" in str(info.value)


def test_a_valid_document_still_round_trips(path: Path) -> None:
    store = LocalStateStore(path)
    written = store.write(make_doc("a", "b"))
    assert LocalStateStore(path).load() == written


def test_equal_values_of_a_loaded_state_share_one_string(path: Path) -> None:
    LocalStateStore(path).write(make_doc("a", "b"))
    loaded = LocalStateStore(path).load()
    first, second = loaded.agents["a"], loaded.agents["b"]
    assert first.token_mode == second.token_mode == "auto"
    assert first.token_mode is second.token_mode  # one string for every record, not one each
    assert first.spec_digest is second.spec_digest


def _line_of(text: str, needle: str, after: str) -> int:
    """The line (from 1) of the first ``needle`` after the first ``after`` in ``text``."""
    return text.count("\n", 0, text.index(needle, text.index(after))) + 1


def test_a_wrong_value_is_named_with_its_line_in_the_state_file(path: Path) -> None:
    data = _valid()
    data["agents"]["b"]["generation"] = "1"
    text = json.dumps(data, indent=2, sort_keys=True)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    line = _line_of(text, '"generation"', '"b": {')
    assert line > _line_of(text, '"generation"', '"a": {')  # the line of b's, not a's
    with pytest.raises(StateError) as info:
        LocalStateStore(path).load()
    assert f"line {line}: agents.b.generation: Input should be a valid integer" in str(info.value)


def test_a_wrong_value_in_a_hand_written_state_file_is_named_with_its_line(path: Path) -> None:
    data = _valid()
    data["serial"] = -1
    text = json.dumps(data, separators=(",", ":")).replace('"serial"', '\n\n  "serial" ')
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StateError) as info:
        LocalStateStore(path).load()
    assert "line 3: serial: Input should be greater than or equal to 0" in str(info.value)
