"""`reconciler sandbox serve` that cannot start says why and exits 1, as its --help says ("1
cannot start (port in use, bad option)"): a port in use, a --db file that is not a SQLite
database or a device. Never an internal error, never exit 3 (which means a lock or a stale
plan everywhere else)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli.cli_helpers import run_main


def test_serve_on_a_port_in_use_exits_1_naming_the_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outside any project
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_main(["sandbox", "serve", "--db", "", "--port", str(port)], capsys)
    assert code == 1
    assert f"Error: cannot serve on 127.0.0.1:{port}" in err


@pytest.mark.parametrize("content", [b"this is not a database\n" * 100, None])
def test_serve_with_a_db_that_is_not_a_database_exits_1_naming_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "engine.db"
    if content is None:
        db = Path("/dev/zero")
    else:
        db.write_bytes(content)
    code, _, err = run_main(["sandbox", "serve", "--db", str(db), "--port", "0"], capsys)
    assert code == 1
    assert f"Error: --db {db}: cannot use it as the sandbox's database" in err
    assert "Internal error" not in err
