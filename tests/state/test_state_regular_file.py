"""The state file is read only when it is a regular file: a FIFO or a link to a device in its
place is a clear StateError at once, never a read that blocks (and ignores SIGTERM) or never
ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.state import LocalStateStore
from reconciler.state.local import store as store_module
from tests.blocking import unblock_fifos, within_deadline
from tests.state.conftest import make_doc


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state" / "agents.json"
    state.parent.mkdir()
    yield state
    unblock_fifos(tmp_path)


def test_a_fifo_as_the_state_file_is_refused_without_blocking(path: Path) -> None:
    os.mkfifo(path)
    store = LocalStateStore(path)
    assert store.exists
    with pytest.raises(StateError) as caught:
        within_deadline(store.load)
    assert str(caught.value) == f"cannot read {path}: is a FIFO (named pipe), not a regular file"


def test_a_write_over_a_fifo_is_refused_without_blocking(path: Path) -> None:
    os.mkfifo(path)
    with pytest.raises(StateError, match=r"refusing to overwrite: cannot read .*FIFO"):
        within_deadline(lambda: LocalStateStore(path).write(make_doc()))
    assert path.is_fifo()


def test_a_link_to_dev_zero_as_the_state_file_is_refused(path: Path) -> None:
    os.symlink("/dev/zero", path)
    with pytest.raises(StateError, match="is a character device, not a regular file"):
        within_deadline(LocalStateStore(path).load)


def test_a_state_file_larger_than_the_limit_is_refused(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    LocalStateStore(path).write(make_doc())
    monkeypatch.setattr(store_module, "MAX_STATE_BYTES", 16)
    with pytest.raises(StateError, match="file too large"):
        LocalStateStore(path).load()


def test_a_linked_state_file_is_still_read(path: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    LocalStateStore(real).write(make_doc())
    os.symlink(real, path)
    assert LocalStateStore(path).load().serial == 1
