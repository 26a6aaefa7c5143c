"""The one loopback rule, and every caller that applies it: engine URLs, settings, the served
sandbox's warning and the apply poll interval."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.engine.endpoints import resolve_endpoints
from reconciler.errors import SettingsError
from reconciler.manifests.settings import engine_problem, load_settings
from reconciler.models.hosts import is_loopback_host, is_loopback_url
from reconciler.project.project import poll_interval_for

LOOPBACK_URLS = [
    "http://127.0.0.1:8787",
    "http://127.0.0.2",
    "http://127.255.255.254:9000",
    "http://localhost:8787",
    "http://LOCALHOST.:8787",
    "http://[::1]:8787",
]
NOT_LOOPBACK_URLS = [
    "http://127.example.com",
    "http://127.0.0.1.nip.io",
    "http://localhost.example.com",
    "http://128.0.0.1",
    "http://0.0.0.0:8787",
    "http://[::2]",
    "http://10.0.0.1",
]


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost", "localhost.", "127.0.0.1", "127.0.0.2", "127.1.2.3", "::1"]
)
def test_loopback_hosts_are_localhost_127_slash_8_and_ipv6_one(host: str) -> None:
    assert is_loopback_host(host)
    assert is_loopback_host(f"[{host}]" if ":" in host else host)


@pytest.mark.parametrize(
    "host",
    ["128.0.0.1", "0.0.0.0", "::", "::2", "10.0.0.1", "127.example.com", "localhost.example", ""],
)
def test_hosts_that_only_look_local_are_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_loopback_urls(url: str) -> None:
    assert is_loopback_url(url)


@pytest.mark.parametrize("url", [*NOT_LOOPBACK_URLS, "ftp://127.0.0.1", "http://[::1", "sandbox"])
def test_urls_that_are_not_loopback(url: str) -> None:
    assert not is_loopback_url(url)


@pytest.mark.parametrize("url", LOOPBACK_URLS)
def test_settings_and_endpoints_both_accept_plain_http_on_any_loopback_host(
    tmp_path: Path, url: str
) -> None:
    assert engine_problem(url) is None
    (tmp_path / "reconciler.yaml").write_text(f"engine: {url}\n")
    assert load_settings(tmp_path, None, {}).engine == url
    assert resolve_endpoints(url)[0].startswith(url.lower().rstrip("."))


@pytest.mark.parametrize("url", NOT_LOOPBACK_URLS)
def test_settings_and_endpoints_both_refuse_plain_http_off_loopback(url: str) -> None:
    assert engine_problem(url) == (
        "engine: plain http:// is allowed only on the loopback interface "
        "(127.0.0.0/8, localhost, [::1]); use https://"
    )
    with pytest.raises(SettingsError, match="loopback"):
        resolve_endpoints(url)


@pytest.mark.parametrize(("url", "interval"), [(u, 0.25) for u in LOOPBACK_URLS])
def test_apply_polls_briskly_on_a_loopback_engine(url: str, interval: float) -> None:
    assert poll_interval_for(url) == interval


@pytest.mark.parametrize("url", ["http://127.example.com", "https://api.agora.io", "us"])
def test_apply_polls_once_a_second_elsewhere(url: str) -> None:
    assert poll_interval_for(url) == 1.0


def test_the_in_process_sandbox_is_local() -> None:
    assert poll_interval_for("sandbox") == 0.25
