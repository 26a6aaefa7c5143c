"""`reconciler watch` options: bad values are clean errors (exit 1) that leave nothing locked."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from reconciler.project import Project
from reconciler.watch.endpoint import PATHS
from reconciler.watch.lease import Lease
from reconciler.watch.logs import LOGGER
from tests.cli.cli_helpers import example_project, run_main


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--interval", "soon", "--interval: 'soon' is not a duration"),
     ("--interval", "0s", "must be more than 0"),
     ("--listen", "9108", "--listen: '9108' is not HOST:PORT"),
     ("--ncs-path", "/a b", "--ncs-path: '/a b' must be a path"),
     ("--ncs-path", "/ncs#x", "--ncs-path: '/ncs#x' must be a path"),
     ("--ncs-path", "/metrics", "--ncs-path: '/metrics' must be a path")],
)  # fmt: skip
def test_a_bad_option_value_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    directory = example_project(tmp_path / "p")
    code, _, err = run_main(["-C", str(directory), "watch", option, value], capsys)
    assert code == 1
    assert message in err and "Traceback" not in err


def test_a_listen_address_in_use_is_a_clean_error_and_leaves_the_state_unlocked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = example_project(tmp_path / "p")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_main(
            ["-C", str(directory), "watch", "--listen", f"127.0.0.1:{port}"], capsys
        )
    assert code == 1
    assert f"--listen 127.0.0.1:{port}: cannot listen there" in err
    lease = Lease(Project.open(directory, None, {}))
    assert lease.try_acquire(), "the state lock was left held"
    lease.release()


def test_the_help_of_listen_names_every_path_it_serves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(["watch", "--help"], capsys)
    listen = " ".join(out.split("--listen HOST:PORT", 1)[1].split("--ncs-path", 1)[0].split())
    assert code == 0
    for path in (*PATHS, "POST /ncs"):
        assert path in listen, path


def test_a_watch_run_in_process_leaves_the_logging_as_it_found_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command sends its log lines to the stderr of its run: once it returns, a line logged
    later (by the event listener of another watch in the same process) must not go to a stream
    that run's caller has closed since ("--- Logging error ---" and a traceback on stderr)."""
    before = (list(LOGGER.handlers), LOGGER.propagate, LOGGER.level)
    directory = example_project(tmp_path / "p")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, _ = run_main(
            ["-C", str(directory), "watch", "--listen", f"127.0.0.1:{port}"], capsys
        )
    assert code == 1
    assert (list(LOGGER.handlers), LOGGER.propagate, LOGGER.level) == before
