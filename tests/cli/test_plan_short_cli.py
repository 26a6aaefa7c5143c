"""A plan stays short where it helps: a large plan is one line an agent, ``--compact`` asks for
that on any plan, ``-v`` (and ``--full``) show every change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import example_project, run_main
from tests.cli.many_agents import many_agents_project


def test_a_plan_of_thirty_new_agents_is_one_line_an_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = many_agents_project(tmp_path / "p", 30)
    code, out, err = run_main(["-C", str(project), "plan", "--no-refresh"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert "  + agent-7  channel=ch-7  # new agent" in lines
    assert "(30 agents summarised: reconciler plan -v shows each change in full)" in lines
    assert not any("properties." in line for line in lines)
    assert len(lines) < 45


def test_verbose_shows_every_attribute_of_every_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = many_agents_project(tmp_path / "p", 30)
    _, short, _ = run_main(["-C", str(project), "plan", "--no-refresh"], capsys)
    code, full, err = run_main(["-C", str(project), "plan", "--no-refresh", "-v"], capsys)
    assert code == 0, err
    assert full.count("+ properties.enable_string_uid = false") == 30
    assert full.count("+ properties.llm.params.model") == 30
    assert len(full.splitlines()) > 20 * len(short.splitlines())


def test_compact_summarises_a_small_plan_and_full_expands_a_large_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = example_project(tmp_path / "small")
    _, out, _ = run_main(["-C", str(small), "plan", "--no-refresh", "--compact"], capsys)
    assert "  + sales-en  channel=sales-en  # new agent" in out.splitlines()
    large = many_agents_project(tmp_path / "large", 30)
    _, out, _ = run_main(["-C", str(large), "plan", "--no-refresh", "--full"], capsys)
    assert out.count("+ properties.llm.params.model") == 30
    assert "+ properties.enable_string_uid" not in out  # --full: every change; -v: defaults too


def test_a_new_agent_lists_what_its_manifest_sets_not_the_engines_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = example_project(tmp_path / "p")
    _, out, _ = run_main(["-C", str(project), "plan", "--no-refresh"], capsys)
    assert "properties.enable_string_uid" not in out
    assert "+ properties.idle_timeout = 0" in out  # set by the manifest (its partial)
    assert "(new agents list what their manifests set; -v also lists the engine's defaults)" in out
