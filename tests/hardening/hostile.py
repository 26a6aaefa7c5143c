"""Helpers of the hardening tests: a project of Platform manifests written by the test (on the
embedded sandbox), the CLI run in-process through its real entry point, and the checks every
refusal of bad input must pass (an error, no traceback, no internal error, a located message)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from tests.reliability.inproc import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]

SECRET_VALUE = "hardening-SECRET-value-7c1e9a3f"
SIP_VALUE = "hardening-SIP-password-2b8d4f6a"
ENV = {"HARDENING_KEY": SECRET_VALUE, "HARDENING_SIP": SIP_VALUE}
"""The environment of every run: the secrets the manifests interpolate."""

SECRET_SET = """\
kind: SecretSet
name: llm_keys
keys:
  openai: ${HARDENING_KEY}
"""
SAVED_AGENT = """\
kind: SavedAgent
name: support
spec:
  instructions: Answer briefly.
  llm:
    vendor: openai
    model: gpt-4o-mini
    credential: {mode: byok, fields: {api_key: $secrets.llm_keys.openai}}
"""
PHONE_NUMBER = """\
kind: PhoneNumber
name: line
spec:
  number: "+14155550100"
  sip_trunk:
    hostname: acme.pstn.example.com
    auth: {username: acme, password: "${HARDENING_SIP}"}
  inbound:
    agent: {ref: SavedAgent/support}
    call_policy: {}
"""
ALL_THREE = "---\n".join((SECRET_SET, SAVED_AGENT, PHONE_NUMBER))


class HostileProject:
    """``reconciler.yaml`` (one environment, or the example's staging and prod) and the
    manifests a test writes into ``agents.d/``; engine: sandbox."""

    def __init__(self, directory: Path, *, environments: bool = False) -> None:
        self.dir = directory
        (directory / "agents.d").mkdir(parents=True)
        settings = "reconciler.yaml" if environments else "tests/single_environment.yaml"
        shutil.copy(ROOT / settings, directory / "reconciler.yaml")

    def write(self, files: Mapping[str, str | bytes]) -> None:
        for name, text in files.items():
            path = self.dir / "agents.d" / name
            data = text if isinstance(text, bytes) else text.encode("utf-8")
            path.write_bytes(data)

    def run(self, *args: str) -> CliResult:
        return run_cli("-C", str(self.dir), *args, env=ENV)

    def refused(self, *args: str, machine: bool = False) -> CliResult:
        """Run a command that must refuse its input: exit 1, an ``Error:`` (for people; a
        ``machine`` format reports on stdout instead), never a traceback or an internal error."""
        result = self.run(*args)
        assert result.code == 1, str(result)
        assert machine or "Error:" in result.stderr, str(result)
        assert "Traceback" not in result.output and "Internal error" not in result.output, str(
            result
        )
        return result
