"""A manifest without a token, under an App Certificate, never stops its running agent.

The engine refuses a join without a token when the app has a certificate (400
``MissingRequiredField`` ``properties.token``). ``validate`` and ``plan`` once accepted such a
manifest, and ``apply`` stopped the running agent for a restart whose join was then refused,
leaving it down. The settings say whether there is a certificate, so the rule is checked with
the others, before anything is planned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.ops_project import OpsProject

MESSAGE = (
    "token is required: the settings give an App Certificate, so the engine refuses a join "
    "without a token (MissingRequiredField properties.token)"
)


@pytest.fixture
def applied(tmp_path: Path) -> Iterator[OpsProject]:
    project = OpsProject(tmp_path / "project")
    project.ok("apply", "--auto-approve")
    yield project
    project.close()


@pytest.mark.parametrize(
    "token_line", ["", "token: null\n", 'token: ""\n', "token: ${EMPTY_TOKEN}\n"]
)
@pytest.mark.parametrize(
    "command", [("validate",), ("plan",), ("plan", "--no-refresh"), ("apply", "--auto-approve")]
)
def test_a_manifest_without_a_token_is_refused_and_its_agent_keeps_running(
    applied: OpsProject, command: tuple[str, ...], token_line: str
) -> None:
    manifest = applied.dir / "agents.d" / "concierge.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "token: auto\n" in text
    manifest.write_text(text.replace("token: auto\n", token_line), encoding="utf-8")
    before = applied.state()
    concierge = applied.agent_id("concierge")

    from tests.reliability.inproc import run_cli

    result = run_cli("-C", str(applied.dir), *command, env={"EMPTY_TOKEN": ""})
    assert result.code == 1, str(result)
    assert "agents.d/concierge.yaml:" in result.stderr and MESSAGE in result.stderr, str(result)
    assert applied.state() == before
    assert applied.status(concierge) == "RUNNING"


def test_without_a_certificate_no_token_is_needed(tmp_path: Path) -> None:
    project = OpsProject(tmp_path / "project")
    try:
        settings = project.dir / "reconciler.yaml"
        lines = settings.read_text(encoding="utf-8").splitlines(keepends=True)
        settings.write_text(
            "".join(line for line in lines if not line.startswith("app_certificate:")),
            encoding="utf-8",
        )
        for name in ("concierge.yaml", "_base/openai.yaml"):
            manifest = project.dir / "agents.d" / name
            text = manifest.read_text(encoding="utf-8").replace("token: auto\n", "")
            manifest.write_text(text, encoding="utf-8")
        project.ok("validate")
        project.ok("apply", "--auto-approve")
    finally:
        project.close()
