"""A command never waits on the engine in silence: without -v, a wait of 5 s or more before
another attempt is announced on stderr with its cause, its length and the attempt to come;
with -v (or RECONCILER_LOG) every retry is printed as before. The deadline names its source."""

from __future__ import annotations

import click
import pytest
from click.core import ParameterSource

from reconciler.cli.options import command_deadline
from reconciler.cli.output import NOTICE_WAIT_S, retry_reporter
from reconciler.engine import RetryEvent

LONG = RetryEvent("list", 1, 6, 30.0, "HTTP 503 ServiceUnavailable", 503, "http://engine")
SHORT = RetryEvent("list", 1, 6, 0.4, "HTTP 503 ServiceUnavailable", 503, "http://engine")
SILENT = RetryEvent("join", 2, 6, 12.0, "timeout", 0, "http://engine")


def _context(verbose: int) -> click.Context:
    return click.Context(click.Command("plan"), obj={"verbose": verbose})


def test_a_long_wait_is_announced_without_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    report = retry_reporter(_context(0), {})
    report(LONG)
    report(SILENT)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "waiting: the engine answered HTTP 503 ServiceUnavailable to list; retrying in 30s "
        "(attempt 2 of 6)",
        "waiting: join got no answer from the engine (timeout); retrying in 12s (attempt 3 of 6)",
    ]


def test_a_short_wait_stays_quiet_without_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    assert SHORT.delay_s < NOTICE_WAIT_S
    retry_reporter(_context(0), {})(SHORT)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("verbose", "environ"), [(1, {}), (0, {"RECONCILER_LOG": "1"})])
def test_verbose_prints_every_retry(
    capsys: pytest.CaptureFixture[str], verbose: int, environ: dict[str, str]
) -> None:
    report = retry_reporter(_context(verbose), environ)
    report(SHORT)
    assert capsys.readouterr().err == (
        "retry: list attempt 1/6 failed (HTTP 503 ServiceUnavailable); next in 0.4s\n"
    )


def test_the_deadline_says_where_it_came_from() -> None:
    given = command_deadline("10m", ParameterSource.COMMANDLINE, {"RECONCILER_TIMEOUT": "1h"})
    assert str(given) == "the command's deadline (--timeout 10m)"
    assert 599 < given.remaining() <= 600
    from_env = command_deadline("30m", ParameterSource.DEFAULT, {"RECONCILER_TIMEOUT": "1h"})
    assert str(from_env) == "the command's deadline (RECONCILER_TIMEOUT=1h)"
    default = command_deadline("30m", ParameterSource.DEFAULT, {})
    assert str(default) == "the command's deadline (the default --timeout 30m)"
    assert 1799 < default.remaining() <= 1800


def test_a_wait_on_the_platform_names_the_platform(capsys: pytest.CaptureFixture[str]) -> None:
    report = retry_reporter(_context(0), {})
    report(RetryEvent("list-numbers", 1, 6, 7.0, "connection error", 0, "http://p", "platform"))
    report(RetryEvent("create-agent", 1, 6, 9.0, "HTTP 503 X", 503, "http://p", "platform"))
    assert capsys.readouterr().err.splitlines() == [
        "waiting: list-numbers got no answer from the Platform (connection error); "
        "retrying in 7s (attempt 2 of 6)",
        "waiting: the Platform answered HTTP 503 X to create-agent; retrying in 9s "
        "(attempt 2 of 6)",
    ]
