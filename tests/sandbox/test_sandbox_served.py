"""The served sandbox over real HTTP: dropped connections, and the CLI command and module entry
points that start it (credentials from the environment only)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import sandbox as cli
from reconciler.sandbox import SandboxConfig
from tests.sandbox.sandbox_helpers import CUSTOMER_ID, CUSTOMER_SECRET, Client, api, join_body
from tests.served import wait_until


@pytest.mark.slow
def test_dropped_connection_over_http_is_a_transport_error(served_client: Client) -> None:
    served_client.control("POST", "/faults/rules", {"route": "list", "action": "drop", "times": 1})
    with pytest.raises(httpx.TransportError):
        served_client.list()
    assert served_client.list().status_code == 200


@pytest.mark.slow
def test_drop_after_over_http_applies_the_join_and_loses_the_answer(
    served_client: Client,
) -> None:
    served_client.control(
        "POST", "/faults/rules", {"route": "join", "action": "drop_after", "times": 1}
    )
    with pytest.raises(httpx.TransportError):
        served_client.request("POST", api("/join"), json=join_body("lost", token="t"))
    (view,) = served_client.control("GET", "/agents")["agents"]
    assert (view["name"], view["status"]) == ("lost", "RUNNING")


@pytest.mark.slow
def test_a_request_held_back_across_a_reset_is_dropped_not_carried_out(
    served: Any, served_client: Client
) -> None:
    """Regression: a join held back by a delay rule when a test ended was carried out after the
    next test's reset, leaving an agent of the old test in the new one (it was adopted there)."""
    served_client.control(
        "POST", "/faults/rules", {"route": "join", "action": "delay", "delay_ms": 800, "times": 1}
    )
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=served.url, timeout=10) as http:
        held = pool.submit(http.post, api("/join"), json=join_body("stale", token="t"),
                           auth=(CUSTOMER_ID, CUSTOMER_SECRET))  # fmt: skip
        wait_until(
            "the join to reach the engine and be held back",
            lambda: served_client.control("GET", "/faults")["rules"][0]["hits"] == 1,
        )
        served_client.control("POST", "/reset")
        with pytest.raises(httpx.TransportError):
            held.result(timeout=10)
    assert served_client.control("GET", "/agents")["agents"] == []
    assert served_client.start("fresh", token="t")  # the reset world works as usual


@pytest.mark.slow
def test_served_sandbox_rejects_token_auth_without_a_certificate(
    tmp_path: Any, server_factory: Any
) -> None:
    server = server_factory("", certificate=None)
    with httpx.Client(base_url=server.url) as http:
        response = http.get(api("/agents"), headers={"Authorization": "agora token=007abc"})
    assert (response.status_code, response.json()["reason"]) == (401, "InvalidPermission")


# -- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """``sandbox serve`` with its server replaced, run outside any project (serve reads the
    ``reconciler.yaml`` of the directory it runs in, and the repository has one)."""
    seen: dict[str, Any] = {}
    monkeypatch.chdir(tmp_path)

    def fake_serve(
        config: SandboxConfig, host: str, port: int, *, on_listening: Callable[[int], None]
    ) -> None:
        seen.update(config=config, host=host, port=port)
        on_listening(port or 49152)

    monkeypatch.setattr(cli, "serve", fake_serve)
    for name in ("AGORA_CUSTOMER_ID", "AGORA_CUSTOMER_SECRET", "AGORA_APP_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)
    return seen


def test_cli_serve_defaults_to_loopback_port_8787_and_sandbox_credentials(
    captured: dict[str, Any],
) -> None:
    result = CliRunner().invoke(cli.sandbox_group, ["serve"])
    assert result.exit_code == 0, result.output
    config: SandboxConfig = captured["config"]
    assert (captured["host"], captured["port"]) == ("127.0.0.1", 8787)
    assert (config.customer_id, config.customer_secret) == ("sandbox", "sandbox")
    assert config.app_certificate is None
    assert config.db_path == ".sandbox/engine.db"
    assert config.pcu_limit == 20
    assert (config.presence, config.idle_before_join) == ("empty", True)
    assert (config.token_check, config.name_scope) == ("strict", "channel")
    assert "token auth: off" in result.output


def test_cli_serve_takes_the_fidelity_choices(captured: dict[str, Any]) -> None:
    args = [
        "serve", "--presence", "occupied", "--no-idle-before-join", "--token-check", "lenient",
        "--name-scope", "app",
    ]  # fmt: skip
    result = CliRunner().invoke(cli.sandbox_group, args)
    assert result.exit_code == 0, result.output
    config: SandboxConfig = captured["config"]
    assert (config.presence, config.idle_before_join) == ("occupied", False)
    assert (config.token_check, config.name_scope) == ("lenient", "app")


@pytest.mark.parametrize(
    "args", [["--presence", "full"], ["--token-check", "off"], ["--name-scope", "world"]]
)
def test_cli_serve_refuses_unknown_fidelity_choices(
    captured: dict[str, Any], args: list[str]
) -> None:
    result = CliRunner().invoke(cli.sandbox_group, ["serve", *args])
    assert result.exit_code == 2
    assert captured == {}


def test_cli_serve_reads_credentials_from_the_environment(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_CUSTOMER_ID", "id-from-env")
    monkeypatch.setenv("AGORA_CUSTOMER_SECRET", "secret-from-env")
    monkeypatch.setenv("MY_CERT", "c" * 32)
    args = [
        "serve", "--port", "9000", "--db", "x.db", "--pcu-limit", "3", "--latency-ms", "5",
        "--error-rate", "0.1", "--rate-limit", "0.2", "--stop-delay", "0.5", "--seed", "4",
        "--app-certificate-env", "MY_CERT",
    ]  # fmt: skip
    result = CliRunner().invoke(cli.sandbox_group, args)
    assert result.exit_code == 0, result.output
    config: SandboxConfig = captured["config"]
    assert (config.customer_id, config.customer_secret) == ("id-from-env", "secret-from-env")
    assert config.app_certificate == "c" * 32
    assert (config.pcu_limit, config.latency_ms, config.error_rate, config.rate_limit) == (
        3,
        5,
        0.1,
        0.2,
    )
    assert (config.stop_delay_s, config.seed, config.db_path) == (0.5, 4, "x.db")
    assert "c" * 32 not in result.output
    assert "secret-from-env" not in result.output


def test_cli_serve_takes_the_customer_id_and_names_of_secret_variables_as_flags(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGORA_CUSTOMER_ID", "id-from-env")
    monkeypatch.setenv("MY_SECRET", "secret-from-my-var")
    args = ["serve", "--customer-id", "team-7", "--customer-secret-env", "MY_SECRET"]
    result = CliRunner().invoke(cli.sandbox_group, args)
    assert result.exit_code == 0, result.output
    config: SandboxConfig = captured["config"]
    assert (config.customer_id, config.customer_secret) == ("team-7", "secret-from-my-var")
    assert "secret-from-my-var" not in result.output


@pytest.mark.parametrize("flag", ["--customer-secret", "--app-certificate", "--secret"])
def test_cli_serve_takes_no_secret_values_as_flags(captured: dict[str, Any], flag: str) -> None:
    result = CliRunner().invoke(cli.sandbox_group, ["serve", flag, "value"])
    assert result.exit_code != 0
    assert "No such option" in result.output
    assert captured == {}


def test_cli_serve_refuses_out_of_range_rates(captured: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.sandbox_group, ["serve", "--error-rate", "1.5"])
    assert result.exit_code == 2
    assert captured == {}


def test_cli_serve_warns_when_binding_beyond_loopback(captured: dict[str, Any]) -> None:
    result = CliRunner().invoke(cli.sandbox_group, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 0
    assert "warning" in result.output


@pytest.mark.parametrize("host", ["127.0.0.2", "localhost", "::1"])
def test_cli_serve_does_not_warn_on_any_loopback_host(captured: dict[str, Any], host: str) -> None:
    result = CliRunner().invoke(cli.sandbox_group, ["serve", "--host", host])
    assert result.exit_code == 0
    assert "warning" not in result.output
    assert captured["host"] == host


def test_cli_serve_webhook_flag_takes_the_secret_from_the_environment_only(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_NCS_SECRET", "whsec-from-env")
    args = ["serve", "--webhook", "http://127.0.0.1:9108/ncs", "--webhook", "https://a.example/n"]
    result = CliRunner().invoke(cli.sandbox_group, args)
    assert result.exit_code == 0, result.output
    config: SandboxConfig = captured["config"]
    assert config.webhooks == (
        ("http://127.0.0.1:9108/ncs", "whsec-from-env"),
        ("https://a.example/n", "whsec-from-env"),
    )
    assert "whsec-from-env" not in result.output and "whsec-from-env" not in repr(config)


def test_cli_serve_webhook_without_a_secret_or_with_a_bad_url_exits_2(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_NCS_SECRET", raising=False)
    result = CliRunner().invoke(cli.sandbox_group, ["serve", "--webhook", "http://x/ncs"])
    assert result.exit_code == 2 and "RECONCILER_NCS_SECRET" in result.output
    monkeypatch.setenv("RECONCILER_NCS_SECRET", "s")
    result = CliRunner().invoke(cli.sandbox_group, ["serve", "--webhook", "ftp://x/ncs"])
    assert result.exit_code == 2 and "--webhook" in result.output
    assert "config" not in captured


def test_cli_serve_webhook_app_id_sends_the_webhooks_one_projects_events(
    captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_NCS_SECRET", "whsec-from-env")
    app_id = "0123456789abcdef0123456789abcdef"
    args = ["serve", "--webhook", "http://127.0.0.1:9108/ncs", "--webhook-app-id", app_id]
    result = CliRunner().invoke(cli.sandbox_group, args)
    assert result.exit_code == 0, result.output
    config: SandboxConfig = captured["config"]
    assert config.webhook_app_id == app_id
    assert f"Notification events of App ID {app_id} to http://127.0.0.1:9108/ncs" in result.output
    result = CliRunner().invoke(cli.sandbox_group, [*args[:3], "--webhook-app-id", ""])
    assert result.exit_code == 2 and "--webhook-app-id" in result.output
