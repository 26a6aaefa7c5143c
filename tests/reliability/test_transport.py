"""Transport security.

* A non-loopback ``http://`` engine is refused (in reconciler.yaml and in RECONCILER_ENGINE),
  before any request is made.
* Credentials are read from the environment only: no command (nor the sandbox server) takes a
  credential as a command-line value, and the settings file cannot hold them.
* TLS verification cannot be silently disabled: the client has no switch for it, environment
  variables that disable it elsewhere do not, and an engine with an unverifiable certificate is
  refused with a clear error (not retried as a "connection error").
* The sandbox binds to loopback by default.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from reconciler.cli import cli as root_command
from reconciler.engine import EngineClient, build_client
from reconciler.engine.endpoints import resolve_endpoints
from reconciler.errors import SettingsError
from reconciler.sandbox import SandboxConfig, create_app
from tests.reliability.chaos_harness import (
    CUSTOMER_ID,
    CUSTOMER_SECRET,
    AgentSpec,
    base_env,
)
from tests.reliability.inproc import CliResult, ThreadServer, run_cli
from tests.served import ServedSandbox

NOT_LOOPBACK = [
    "http://engine.example.com",
    "http://10.0.0.5:8787",
    "http://192.168.1.20/api/conversational-ai-agent",
    "http://[2001:db8::1]:8080",
    "HTTP://engine.example.com",
    "http://127.0.0.1.nip.io",
    "http://localhost.example.com",
    "http://127.0.0.1@engine.example.com",
    "http://engine.example.com#@127.0.0.1",
    "http://0.0.0.0:8787",
]


def project(tmp_path: Path, engine: str) -> Path:
    (tmp_path / "agents.d").mkdir(parents=True, exist_ok=True)
    manifest = AgentSpec("a", token=None).yaml()  # no certificate in these settings
    (tmp_path / "agents.d" / "a.yaml").write_text(manifest, encoding="utf-8")
    (tmp_path / "reconciler.yaml").write_text(
        f"engine: {engine}\nmax_attempts: 2\nrequest_timeout_s: 2\n", encoding="utf-8"
    )
    return tmp_path


def cli(directory: Path, *args: str, **env: str | None) -> CliResult:
    environ: dict[str, str | None] = {**base_env(), "RECONCILER_ENGINE": None}
    environ.update(env)
    return run_cli("-C", str(directory), *args, env=environ)


@pytest.mark.parametrize("engine", NOT_LOOPBACK)
def test_plain_http_off_loopback_is_refused_in_settings_and_environment(
    tmp_path: Path, engine: str
) -> None:
    directory = project(tmp_path, engine)
    for args in (("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")):
        refused = cli(directory, *args)
        assert refused.code == 1, refused
        assert "reconciler.yaml:1: engine: plain http:// is allowed only on the loopback" in (
            refused.stderr
        ), refused
    directory = project(tmp_path, "sandbox")
    refused = cli(directory, "plan", RECONCILER_ENGINE=engine)
    assert refused.code == 1, refused
    assert "RECONCILER_ENGINE: engine: plain http:// is allowed only on the loopback" in (
        refused.stderr
    )
    with pytest.raises(SettingsError):  # plain http, or credentials in the URL
        resolve_endpoints(engine)
    assert not (tmp_path / "state").exists()  # refused before anything was written


def test_plain_http_on_loopback_reaches_a_local_engine(tmp_path: Path) -> None:
    app = create_app(SandboxConfig(customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET))
    with ThreadServer(app) as served:
        for host in ("127.0.0.1", "localhost"):
            directory = project(tmp_path / host, f"http://{host}:{served.port}")
            planned = cli(directory, "plan")
            assert planned.code == 0, planned
    app.state.sandbox.close()


# -- credentials from the environment only -----------------------------------------------------

CREDENTIAL_WORDS = re.compile(
    r"secret|password|passwd|token|key|credential|certificate|cert|customer|auth", re.I
)
ALLOWED = {
    "--app-certificate-env",
    "--customer-secret-env",
    "--webhook-secret-env",
    "--customer-id",
    "--token-check",  # strict | lenient: how the sandbox checks agent tokens, not a credential
}
"""The ``-env`` options take the *name* of an environment variable, never a value. The sandbox's
``--customer-id`` is the user name of the Basic auth the emulator accepts, not a secret;
the tool itself reads its customer id from the environment like the secret."""


def commands(command: click.Command, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
    yield ctx.command_path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from commands(sub, click.Context(sub, info_name=name, parent=ctx))


@pytest.mark.slow
def test_no_command_takes_a_credential_on_the_command_line() -> None:
    ctx = click.Context(root_command, info_name="reconciler")
    seen = dict(commands(root_command, ctx))
    assert {
        "reconciler plan",
        "reconciler apply",
        "reconciler destroy",
        "reconciler validate",
        "reconciler state show",
        "reconciler sandbox serve",
        "reconciler force-unlock",
        "reconciler show",
        "reconciler schema",
    } <= set(seen)
    offending = []
    for path, command in seen.items():
        for param in command.params:
            names = [*param.opts, *param.secondary_opts, param.name or ""]
            if any(CREDENTIAL_WORDS.search(n) for n in names) and not ALLOWED & set(names):
                offending.append(f"{path}: {names}")
            if isinstance(param, click.Option) and param.envvar:
                offending.append(f"{path}: {names} reads ${param.envvar}")
        assert "auto_envvar_prefix" not in command.context_settings, path
    assert not offending, offending
    customer_id_options = [
        p for p, c in seen.items() for o in c.params if "--customer-id" in o.opts
    ]
    assert customer_id_options == ["reconciler sandbox serve"]


def test_the_settings_file_cannot_hold_the_customer_credentials(tmp_path: Path) -> None:
    directory = project(tmp_path, "sandbox")
    with (directory / "reconciler.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"customer_id: someone\ncustomer_secret: {CUSTOMER_SECRET}\n")
    refused = cli(directory, "validate")
    assert refused.code == 1
    assert (
        "reconciler.yaml:4: customer_id cannot be set in the settings file; set AGORA_CUSTOMER_ID"
        in refused.stderr
    )
    assert "reconciler.yaml:5: customer_secret cannot be set in the settings file" in refused.stderr
    assert CUSTOMER_SECRET not in refused.output


# -- TLS verification ---------------------------------------------------------------------------


def test_the_engine_client_has_no_switch_to_disable_tls_verification() -> None:
    for function in (EngineClient.__init__, build_client):
        params = set(inspect.signature(function).parameters)
        assert not {p for p in params if re.search(r"verify|ssl|cert|insecure|tls", p, re.I)}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    where = tmp_path_factory.mktemp("tls")
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


@pytest.mark.parametrize(
    "env",
    [
        {},
        {
            "PYTHONHTTPSVERIFY": "0",
            "CURL_CA_BUNDLE": "",
            "REQUESTS_CA_BUNDLE": "",
            "HTTPX_VERIFY": "0",
            "SSL_VERIFY": "false",
            "NODE_TLS_REJECT_UNAUTHORIZED": "0",
        },
    ],
    ids=["plain", "env-vars-that-disable-tls-elsewhere"],
)
def test_an_engine_whose_certificate_cannot_be_verified_is_refused_clearly(
    tmp_path: Path, certificate: tuple[Path, Path], env: dict[str, str]
) -> None:
    """Regression: a certificate failure was reported (after every retry) as a bare
    "connection error", indistinguishable from a network problem."""
    key, cert = certificate
    app = create_app(SandboxConfig(customer_id=CUSTOMER_ID, customer_secret=CUSTOMER_SECRET))
    with ThreadServer(app, ssl_keyfile=str(key), ssl_certfile=str(cert)) as served:
        directory = project(tmp_path, served.url)
        for args in (("plan",), ("apply", "--auto-approve")):
            refused = cli(directory, "-v", *args, **env)
            assert refused.code == 1, refused
            assert (
                f"engine refused: list of agents: the TLS certificate of 127.0.0.1:{served.port} "
                "could not be verified (self-signed certificate)"
            ) in refused.stderr, refused
            assert "retry:" not in refused.stderr  # not retried: it would fail the same way
        # Trusting the certificate explicitly is how it is done (not switching checks off).
        trusted = cli(directory, "plan", SSL_CERT_FILE=str(cert))
        assert trusted.code == 0, trusted
        assert len(app.state.sandbox.requests) > 0
    app.state.sandbox.close()


def test_an_unreadable_ca_bundle_is_a_settings_error_not_a_crash(tmp_path: Path) -> None:
    """Regression: SSL_CERT_FILE naming a file with no certificate crashed with an internal
    error (ssl.SSLError while building the HTTP client)."""
    empty = tmp_path / "empty.pem"
    empty.write_text("", encoding="utf-8")
    directory = project(tmp_path, "https://engine.example.com")
    refused = cli(directory, "plan", SSL_CERT_FILE=str(empty))
    assert refused.code == 1, refused
    assert "Error: cannot set up TLS certificate verification" in refused.stderr
    assert "check SSL_CERT_FILE and SSL_CERT_DIR" in refused.stderr


# -- the sandbox binds to loopback ---------------------------------------------------------------


@pytest.mark.slow
def test_the_sandbox_binds_to_loopback_by_default(tmp_path: Path) -> None:
    from reconciler.cli.sandbox import serve_command
    from reconciler.sandbox import serve

    defaults = {p.name: p.default for p in serve_command.params}
    assert defaults["host"] == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    if not Path("/proc/net/tcp").exists():
        pytest.skip("listening addresses are read from /proc/net/tcp (Linux)")
    env = {**os.environ, "AGORA_CUSTOMER_ID": CUSTOMER_ID, "AGORA_CUSTOMER_SECRET": CUSTOMER_SECRET}
    served = ServedSandbox(db="", env=env, cwd=tmp_path)  # no --host: the default
    try:
        listening = _wait_listening(served.port, served.process)
    finally:
        served.stop()
    assert listening == {"127.0.0.1"}, listening


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> set[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the sandbox exited"
        found = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, hexport = local.rsplit(":", 1)
                if state == "0A" and int(hexport, 16) == port:
                    found.add(_address(address))
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the sandbox never listened")


def _address(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)
