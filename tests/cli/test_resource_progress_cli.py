"""What apply prints while it creates, updates, replaces and deletes Platform resources: each
step in its own words (``creating``, ``deleted (replace)``), never an agent's ``start``; the
progress bar and the JSON stream count a resource's action like an agent's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.apply import ApplyEvent
from reconciler.cli.progress import TextProgress
from tests.cli.cli_helpers import run_main
from tests.cli.platform_project import platform_project


def apply_lines(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    code, out, err = run_main(["-C", str(project), "apply", "--auto-approve"], capsys)
    assert code == 0, err
    return [
        line
        for line in (out + err).splitlines()
        if line.startswith(("SecretSet/", "Saved", "Phone"))
    ]


def test_creates_are_reported_as_creating_and_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = apply_lines(platform_project(tmp_path), capsys)

    assert [line.split(" [")[0].split(" after")[0] for line in lines] == [
        "SecretSet/llm_keys: creating...",
        "SecretSet/llm_keys: created",
        "SavedAgent/support: creating...",
        "SavedAgent/support: created",
        "PhoneNumber/support-line: creating...",
        "PhoneNumber/support-line: created",
    ]
    assert not [line for line in lines if "start" in line]


def test_updates_replaces_and_deletes_use_their_own_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = platform_project(tmp_path)
    apply_lines(project, capsys)
    manifest = project / "agents.d" / "platform.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(
        text.replace("Answer briefly", "Answer very briefly").replace("0100", "0199"),
        encoding="utf-8",
    )

    lines = [line.split(" [")[0] for line in apply_lines(project, capsys)]

    assert lines == [  # a new number is created first, the old one deleted after
        "SavedAgent/support: updating...",
        "SavedAgent/support: updated",
        "PhoneNumber/support-line: creating (replace)...",
        "PhoneNumber/support-line: created (replace)",
        "PhoneNumber/support-line: deleting for replace...",
        "PhoneNumber/support-line: deleted (replace)",
    ]
    manifest.write_text(text.split("---\n")[0], encoding="utf-8")  # the secret set only

    lines = [line.split(" [")[0] for line in apply_lines(project, capsys)]

    assert lines == [
        "PhoneNumber/support-line: deleting...",
        "PhoneNumber/support-line: deleted",
        "SavedAgent/support: deleting...",
        "SavedAgent/support: deleted",
    ]


def test_the_json_stream_lists_and_counts_resource_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = platform_project(tmp_path)
    code, out, err = run_main(
        ["-C", str(project), "apply", "--auto-approve", "--format", "json"], capsys
    )
    assert code == 0, err
    start = json.loads(out.splitlines()[0])

    assert start["type"] == "apply_start" and start["steps"] == 3
    assert [(a["name"], a["action"]) for a in start["actions"]] == [
        ("SecretSet/llm_keys", "create"),
        ("SavedAgent/support", "create"),
        ("PhoneNumber/support-line", "create"),
    ]
    begun = [json.loads(line) for line in out.splitlines() if '"action_begin"' in line]
    assert {e["reason"] for e in begun} == {"new resource"}
    summary = json.loads(out.splitlines()[-1])
    assert summary["type"] == "summary"
    assert (summary["counts"]["create"], summary["counts"]["delete"]) == (3, 0)


def test_the_bar_counts_a_replace_as_one_action(capsys: pytest.CaptureFixture[str]) -> None:
    bar = TextProgress(1, color=False, bar=False, clock=lambda: 0.0)
    for phase in ("stop", "start"):
        bar(ApplyEvent("PhoneNumber/line", "replace", phase, "begin"))  # type: ignore[arg-type]
        bar(ApplyEvent("PhoneNumber/line", "replace", phase, "done"))  # type: ignore[arg-type]
        assert bar.done == (1 if phase == "start" else 0)
    capsys.readouterr()
