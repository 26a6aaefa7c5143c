"""--interval durations and --listen addresses."""

from __future__ import annotations

import pytest

from reconciler.watch import parse_duration, parse_listen
from reconciler.watch.controller import backoff_delay
from reconciler.watch.interval import WatchOptionError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("2m", 120.0), ("1h", 3600.0), ("500ms", 0.5), ("45", 45.0), ("1.5s", 1.5)],
)
def test_interval_accepts_a_number_with_an_optional_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "-1s", "0s", "10d", "1e9", "30 sec", "8days"])
def test_interval_refuses_what_is_not_a_positive_duration(text: str) -> None:
    with pytest.raises(WatchOptionError, match="--interval"):
        parse_duration(text)


def test_listen_is_host_and_port() -> None:
    assert parse_listen("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert parse_listen("[::1]:9108") == ("::1", 9108)


@pytest.mark.parametrize("text", ["9108", "127.0.0.1", ":9108", "host:99999", "host:port"])
def test_listen_refuses_what_is_not_host_colon_port(text: str) -> None:
    with pytest.raises(WatchOptionError, match="--listen"):
        parse_listen(text)


def test_backoff_doubles_up_to_ten_intervals_with_jitter_of_at_most_half() -> None:
    assert backoff_delay(30, 1, 0.999) == pytest.approx(30, rel=1e-3)
    assert backoff_delay(30, 2, 0.0) == 30  # 60 s, halved by the largest jitter
    assert backoff_delay(30, 50, 0.999) == pytest.approx(300, rel=1e-3)
    assert backoff_delay(1, 50, 0.999) == pytest.approx(10, rel=1e-3)
    assert backoff_delay(3600, 50, 0.999) == pytest.approx(3600, rel=1e-3)
