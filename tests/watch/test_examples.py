"""The systemd unit and the Kubernetes Deployment in examples/ are valid, probe real endpoint
paths, and run a command line the CLI accepts."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from reconciler.watch import parse_duration, parse_listen
from reconciler.watch.endpoint import PATHS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _parse_command_line(args: list[str]) -> dict[str, Any]:
    """Parse ``reconciler ARGS`` with the real click commands, without running anything."""
    assert args[0].endswith("reconciler"), args
    with cli.make_context("reconciler", args[1:]) as root:
        # click 8.2 keeps the subcommand's name apart from ``args`` (``protected_args`` before)
        protected = getattr(root, "_protected_args", None)
        if protected is None:
            protected = root.protected_args
        name, command, rest = cli.resolve_command(root, [*protected, *root.args])
        assert name == "watch" and command is not None
        with command.make_context(name, rest, parent=root) as sub:
            params = dict(sub.params)
    parse_duration(params["interval"])
    if params["listen"] is not None:
        parse_listen(params["listen"])
    return params


def _kind(kind: str) -> dict[str, Any]:
    docs = list(yaml.safe_load_all((EXAMPLES / "kubernetes" / "deployment.yaml").read_text()))
    found = [d for d in docs if d and d.get("kind") == kind]
    assert len(found) == 1
    document: dict[str, Any] = found[0]
    return document


def _deployment() -> dict[str, Any]:
    return _kind("Deployment")


def test_kubernetes_deployment_runs_two_replicas_with_a_git_sync_sidecar() -> None:
    spec = _deployment()["spec"]
    assert spec["replicas"] == 2
    containers = {c["name"]: c for c in spec["template"]["spec"]["containers"]}
    assert set(containers) == {"reconciler", "git-sync"}
    assert "git-sync" in containers["git-sync"]["image"]
    mounts = {m["name"] for c in containers.values() for m in c["volumeMounts"]}
    assert mounts == {"repo"}


def test_kubernetes_probes_point_at_the_endpoint_the_command_serves() -> None:
    container = next(
        c
        for c in _deployment()["spec"]["template"]["spec"]["containers"]
        if c["name"] == "reconciler"
    )
    params = _parse_command_line(container["command"])
    _, port = parse_listen(params["listen"])
    liveness = container["livenessProbe"]["httpGet"]
    readiness = container["readinessProbe"]["httpGet"]
    assert (liveness["path"], liveness["port"]) == ("/healthz", port)
    assert (readiness["path"], readiness["port"]) == ("/readyz", port)
    assert {liveness["path"], readiness["path"]} <= set(PATHS)
    assert container["ports"][0]["containerPort"] == port


def test_kubernetes_secrets_come_from_a_secret_only() -> None:
    container = next(
        c
        for c in _deployment()["spec"]["template"]["spec"]["containers"]
        if c["name"] == "reconciler"
    )
    assert container["envFrom"] == [{"secretRef": {"name": "reconciler-watch"}}]
    assert "env" not in container  # no literal value anywhere


def test_systemd_unit_is_valid_and_runs_a_command_the_cli_accepts() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((EXAMPLES / "systemd" / "reconciler-watch.service").read_text())
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
    service = parser["Service"]
    params = _parse_command_line(shlex.split(service["ExecStart"]))
    assert params["log_format"] == "json"
    assert service["KillSignal"] == "SIGTERM"
    assert "-HUP" in service["ExecReload"]
    assert service["EnvironmentFile"].startswith("/etc/")


def test_the_command_line_check_refuses_an_unknown_option() -> None:
    with pytest.raises(click.UsageError):
        _parse_command_line(["reconciler", "watch", "--intervall", "30s"])


def test_kubernetes_ingress_sends_ncs_over_tls_to_the_listener_checked_on_leaderz() -> None:
    container = next(
        c
        for c in _deployment()["spec"]["template"]["spec"]["containers"]
        if c["name"] == "reconciler"
    )
    params = _parse_command_line(container["command"])
    _, port = parse_listen(params["listen"])
    service, ingress = _kind("Service"), _kind("Ingress")
    assert service["spec"]["selector"] == _deployment()["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == port
    assert ingress["spec"]["tls"], "NCS posts only to HTTPS"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == params["ncs_path"] == "/ncs"
    assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] in PATHS
