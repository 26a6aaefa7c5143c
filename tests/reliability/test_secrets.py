"""Issue 6, item 5: secrets never leave the process except towards the engine.

Distinctive secret values sit in the environment (customer secret, App Certificate, vendor keys
interpolated into the manifests, and tokens minted from the certificate). Every command is run in
every format, with ``-v`` and ``RECONCILER_LOG``, on the success paths and on the error paths
(engine errors whose detail echoes the request, the credentials or a token; secrets landing in
the wrong setting or manifest field; a rotated secret), and everything written is scanned for the
values and their base64 forms: stdout, stderr, the state and its backup, the lock file (read
while an apply holds it), saved plans, and every other file in the project. Zero hits.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.chaos_harness import (
    APP_CERTIFICATE,
    BASIC_CREDENTIAL,
    CUSTOMER_SECRET,
    OPENAI_KEY,
    SECRETS,
    TTS_KEY,
    AgentSpec,
    ChaosProject,
    Engine,
    Result,
    leaks,
)
from tests.reliability.inproc import run_cli

ROTATED = {
    "OPENAI_API_KEY": "sk-rel-ROTATED-key-3e5a7c9b1d",
    "AZURE_TTS_KEY": "az-rel-ROTATED-key-0f2d4b6a8c",
}
ALL_SECRETS = {**SECRETS, **{f"{k} (rotated)": v for k, v in ROTATED.items()}}
ACCESS_TOKEN = re.compile(r"007([A-Za-z0-9+/]{40,}={0,2})")
"""What may be an AccessToken2 (what ``token: auto`` mints from the App Certificate)."""


def access_tokens(text: str) -> list[str]:
    """The AccessToken2s in ``text``: ``007`` + base64 of a zlib stream that decompresses.

    Checking the payload keeps a salted digest that happens to contain ``007`` followed by hex
    digits (some digest in a state file, about one run in seven) from passing for a token.
    """
    found = []
    for match in ACCESS_TOKEN.finditer(text):
        payload = match.group(1)
        try:
            zlib.decompress(base64.b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, zlib.error, ValueError):
            continue
        found.append(match.group(0))
    return found


class Scan:
    """Collects everything the CLI wrote, to be scanned at the end."""

    def __init__(self, project: ChaosProject) -> None:
        self.project = project
        self.texts: list[tuple[str, str]] = []

    def run(
        self,
        *args: str,
        code: int | None = 0,
        env: dict[str, str] | None = None,
        process: bool = False,
    ) -> Result:
        """Run the CLI in-process (fast) or, with ``process``, as a real subprocess."""
        if process:
            result = self.project.run(*args, env=env)
        else:
            overrides: dict[str, str | None] = {"RECONCILER_ENGINE": None, "RECONCILER_LOG": None}
            overrides.update(env or self.project.env)
            done = run_cli("-C", str(self.project.dir), *args, env=overrides)
            result = Result(args, done.code, done.stdout, done.stderr)
        where = f"`reconciler {' '.join(args)}`"
        self.texts.append((f"stdout of {where}", result.stdout))
        self.texts.append((f"stderr of {where}", result.stderr))
        assert "Traceback" not in result.stderr, result
        if code is not None:
            assert result.code == code, result
        return result

    def add_file(self, where: str, path: Path) -> None:
        if path.is_file():
            self.texts.append((where, path.read_bytes().decode("utf-8", "replace")))

    def files(self) -> None:
        for path in sorted(self.project.dir.rglob("*")):
            self.add_file(str(path.relative_to(self.project.dir)), path)

    def leaks(self) -> list[str]:
        found = leaks(self.texts, ALL_SECRETS)
        found += [f"an access token in {w}" for w, t in self.texts if access_tokens(t)]
        return found


@pytest.fixture
def project(tmp_path: Path, engine: Engine) -> Iterator[ChaosProject]:
    project = ChaosProject(tmp_path / "project", engine, max_attempts=10)
    project.set_agents([AgentSpec("alpha", token="auto"), AgentSpec("beta"), AgentSpec("gamma")])
    yield project


def hold_and_read_lock(project: ChaosProject, scan: Scan, engine: Engine) -> None:
    """Run an apply that the engine holds for a moment, and read the lock file meanwhile."""
    engine.add_rule(route="list", action="delay", delay_ms=400, times=1)
    seen: list[str] = []

    def read() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not seen:
            try:
                text = project.lock_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            if text.strip():
                seen.append(text)
            time.sleep(0.01)

    reader = threading.Thread(target=read)
    reader.start()
    scan.run("-v", "apply", "--auto-approve", process=True)
    reader.join()
    assert seen, "the lock file never held holder info"
    scan.texts.append(("the lock file, while held", seen[0]))


@pytest.mark.slow
def test_no_secret_in_any_output_file_or_format_on_success_and_error_paths(
    project: ChaosProject, engine: Engine
) -> None:
    scan = Scan(project)
    plan_file = str(project.dir / "saved.plan.json")

    # Read-only commands, every format, verbose.
    scan.run("validate")
    scan.run("-v", "validate")
    scan.run("schema")
    for fmt in ("text", "markdown", "json"):
        scan.run("-v", "plan", "--format", fmt)
    scan.run("plan", "--detailed-exitcode", code=2)
    scan.run("plan", "--no-refresh", "--format", "markdown")
    scan.run("-v", "plan", "--out", plan_file)
    for fmt in ("text", "markdown", "json"):
        scan.run("show", plan_file, "--format", fmt)

    # Apply through retries (logged with -v and RECONCILER_LOG) and a saved plan.
    engine.faults(error_rate=0.3, rate_limit=0.2, retry_after_s=0, seed=5)
    scan.run("-vv", "apply", plan_file, process=True)
    engine.calm()
    scan.run("state", "list")
    scan.run("state", "show")
    for fmt in ("text", "markdown", "json"):
        scan.run("-v", "plan", "--format", fmt)

    # A rotated secret: planned as "(sensitive, changed)", applied as an update.
    rotated = {**project.env, **ROTATED}
    changed = scan.run("-v", "plan", "--format", "json", code=0, env=rotated)
    doc = json.loads(changed.stdout)
    assert any(c["sensitive"] for a in doc["agents"] for c in a["changes"])
    for fmt in ("text", "markdown"):
        scan.run("plan", "--format", fmt, env=rotated)
    scan.run("-v", "apply", "--auto-approve", env={**rotated, "RECONCILER_LOG": "1"}, process=True)

    # Engine errors whose detail echoes the request, the credentials or a minted token.
    project.write_settings(max_attempts=2)
    echo = (
        f"bad request: api_key={ROTATED['OPENAI_API_KEY']} key={ROTATED['AZURE_TTS_KEY']} "
        f"auth=Basic {BASIC_CREDENTIAL} secret={CUSTOMER_SECRET} cert={APP_CERTIFICATE}"
    )
    engine.add_rule(route="update", status=400, reason="InvalidRequestBody", detail=echo)
    engine.add_rule(route="join", status=503, detail=echo)
    project.set_agents(
        [AgentSpec("alpha", "Prompt 2", token="auto"), AgentSpec("beta"), AgentSpec("delta")]
    )
    failed = scan.run("-vv", "apply", "--auto-approve", code=1, env=rotated, process=True)
    assert "alpha: FAILED" in failed.stdout and "delta: FAILED" in failed.stdout
    assert "(sensitive)" in failed.output  # the echo was scrubbed, not dropped
    engine.calm()
    engine.add_rule(route="list", status=500, detail=echo)
    scan.run("-v", "plan", code=1, env=rotated)
    scan.run("destroy", "--auto-approve", code=1, env=rotated)
    engine.calm()
    engine.add_rule(route="*", status=401, reason="InvalidPermission", detail=echo, times=1)
    scan.run("plan", code=1, env=rotated)
    engine.calm()

    # The lock file while an apply holds it.
    hold_and_read_lock(project, scan, engine)

    # Secrets in the wrong places: every message names the place, never the value.
    wrong_env = {**rotated, "RECONCILER_ENGINE": f"https://user:{CUSTOMER_SECRET}@engine.example"}
    scan.run("plan", code=1, env=wrong_env)
    scan.run("plan", code=1, env={**rotated, "RECONCILER_ENGINE": CUSTOMER_SECRET})
    project.write_settings(
        max_concurrent_agents="${OPENAI_API_KEY}", parallelism="${AZURE_TTS_KEY}"
    )
    scan.run("-v", "validate", code=1, env=rotated)
    project.write_settings(max_concurrent_agents=500, parallelism=10)
    project.write_settings(app_certificate="${OPENAI_API_KEY}", engine="${AGORA_CUSTOMER_SECRET}")
    scan.run("-v", "plan", code=1, env=rotated)
    project.write_settings(app_certificate="${AGORA_APP_CERTIFICATE}", engine=engine.url)
    bad = AgentSpec("epsilon").yaml().replace("idle_timeout: 0", "idle_timeout: ${OPENAI_API_KEY}")
    bad = bad.replace('agent_rtc_uid: "1001"', "agent_rtc_uid: [${AZURE_TTS_KEY}]")
    (project.dir / "agents.d" / "epsilon.yaml").write_text(bad, encoding="utf-8")
    (project.dir / "agents.d" / "zeta.yaml").write_text(
        "name: zeta\nproperties: ${AZURE_TTS_KEY}\n", encoding="utf-8"
    )
    invalid = scan.run("-v", "validate", code=1, env=rotated)
    assert "epsilon.yaml" in invalid.stderr and "zeta.yaml" in invalid.stderr
    scan.run("apply", "--auto-approve", code=1, env=rotated)
    (project.dir / "agents.d" / "epsilon.yaml").unlink()
    (project.dir / "agents.d" / "zeta.yaml").unlink()

    scan.run("force-unlock", "00000000-0000-4000-8000-000000000000", code=1, env=rotated)

    # Tear down, then scan every file left in the project (state, backup, plans; the lock file
    # is removed by the release of the lock that created it, and was read while held above).
    scan.run("-v", "destroy", "--auto-approve", env=rotated, process=True)
    scan.files()
    assert {p.name for p in project.dir.rglob("*.json*")} >= {
        "agents.json",
        "agents.json.backup",
        "saved.plan.json",
    }
    found = scan.leaks()
    assert not found, "\n".join(found)


def test_the_scanner_finds_plain_and_base64_secrets() -> None:
    """The scan is only as good as its detector: check it on planted leaks."""
    planted = [
        ("plain", f"xx{OPENAI_KEY}yy"),
        ("b64", base64.b64encode(f"k={TTS_KEY};".encode()).decode()),
        ("b64 shifted", base64.b64encode(f"ab{CUSTOMER_SECRET}".encode()).decode()),
        ("urlsafe", base64.urlsafe_b64encode(f"a{APP_CERTIFICATE}".encode()).decode()),
        ("basic", f"Authorization: Basic {BASIC_CREDENTIAL}"),
        ("clean", "nothing to see (sensitive)"),
    ]
    found = leaks(planted, ALL_SECRETS)
    assert sorted(found) == sorted(
        [
            "OPENAI_API_KEY in plain",
            "AZURE_TTS_KEY (base64) in b64",
            "AGORA_CUSTOMER_SECRET (base64) in b64 shifted",
            "AGORA_APP_CERTIFICATE (base64) in urlsafe",
            "the Basic credential in basic",
            "AGORA_CUSTOMER_SECRET (base64) in basic",
        ]
    )


def test_the_token_detector_finds_minted_tokens_but_not_digests_that_contain_007() -> None:
    from reconciler.engine import mint_agent_token

    token, _ = mint_agent_token(
        "0123456789abcdef0123456789abcdef", APP_CERTIFICATE, "ch", "1001", 3600, time.time(), False
    )
    digest = "sha256:" + "007" + "a1b2c3d4e5f6" * 5 + "0" * 1  # hex that looks like a token
    assert access_tokens(f'"token": "{token}",') == [token]
    assert access_tokens(f"agora token={token}") == [token]
    assert access_tokens(f'{{"$sensitive": "{digest}"}}') == []
    assert access_tokens("sha256:9f3c007" + "ab" * 30) == []
