"""What is read from a project: regular files of bounded size inside ``agents.d/`` only.

A FIFO would block the read forever (and the wait ignores SIGTERM), a link to ``/dev/zero``
reads without end, and a link out of ``agents.d/`` would make a file nobody reviews an agent.
Every test that could block runs the load in a thread with a deadline, so a regression fails
instead of hanging the suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import load_settings, loader
from reconciler.safefile import FileTooLarge, NotRegularFile, read_regular
from tests.blocking import unblock_fifos, within_deadline
from tests.manifests.manifest_helpers import Project


def errors_of(project: Project) -> list[str]:
    def load() -> list[str]:
        with pytest.raises(ValidationError) as caught:
            project.load()
        return [str(p) for p in caught.value.problems]

    return within_deadline(load)


@pytest.fixture
def unblock(tmp_path: Path) -> Iterator[None]:
    """At teardown, unblock any reader a regression left waiting on a FIFO under tmp_path."""
    yield
    unblock_fifos(tmp_path)


def test_a_fifo_in_agents_d_is_refused_without_blocking(project: Project, unblock: None) -> None:
    project.agent("good.yaml", "good", props="idle_timout: 1\n")
    os.mkfifo(project.root / "agents.d" / "f.yaml")
    assert errors_of(project) == [
        "agents.d/f.yaml: cannot read: is a FIFO (named pipe), not a regular file",
        "agents.d/good.yaml:12: unknown key 'idle_timout' in properties, did you mean "
        "'idle_timeout'?",
    ]


def test_a_fifo_partial_is_refused_without_blocking(project: Project, unblock: None) -> None:
    os.mkfifo(project.root / "agents.d" / "_base.yaml")
    assert errors_of(project) == [
        "agents.d/_base.yaml: cannot read: is a FIFO (named pipe), not a regular file"
    ]


def test_a_link_to_dev_zero_is_refused(project: Project) -> None:
    os.symlink("/dev/zero", project.root / "agents.d" / "zero.yaml")
    (errors,) = errors_of(project)
    assert errors.startswith("agents.d/zero.yaml: refused: a link to a file outside agents.d/")


def test_a_device_is_refused_unopened() -> None:
    with pytest.raises(NotRegularFile, match="character device"):
        read_regular("/dev/zero", 1 << 20)


def test_a_link_to_a_file_outside_agents_d_is_refused(project: Project, tmp_path: Path) -> None:
    outside = project.agent("../elsewhere.yaml", "stranger")
    os.symlink(outside, project.root / "agents.d" / "stranger.yaml")
    project.agent("good.yaml", "good")
    assert errors_of(project) == [
        "agents.d/stranger.yaml: refused: a link to a file outside agents.d/ (move or copy the"
        " file into agents.d/)"
    ]


def test_a_partial_linked_from_outside_agents_d_is_refused(project: Project) -> None:
    outside = project.write("shared/base.yaml", "properties: {idle_timeout: 5}\n")
    os.symlink(outside, project.root / "agents.d" / "_base.yaml")
    project.agent("a.yaml", "a", extra="extends: _base.yaml\n")
    (error,) = errors_of(project)  # said once: not also "no such file" for the extends
    assert error.startswith("agents.d/_base.yaml: refused: a link to a file outside agents.d/")


def test_a_link_between_files_of_agents_d_is_read(project: Project) -> None:
    project.write("agents.d/_base/real.yaml", "properties: {idle_timeout: 5}\n")
    os.symlink("real.yaml", project.root / "agents.d" / "_base" / "alias.yaml")
    project.agent("a.yaml", "a", extra="extends: _base/alias.yaml\n")
    assert project.load().agents["a"].spec["properties"]["idle_timeout"] == 5


def test_a_manifest_larger_than_the_limit_is_refused(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 256)
    project.agent("small.yaml", "small")
    project.agent("big.yaml", "big", props="labels: {note: " + "x" * 300 + "}\n")
    assert errors_of(project) == [
        "agents.d/big.yaml: cannot read: file too large (more than 256 bytes)"
    ]


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "grow.yaml"
    path.write_bytes(b"x" * 10)
    assert read_regular(path, 10)[0] == b"x" * 10
    path.write_bytes(b"x" * 11)
    with pytest.raises(FileTooLarge):
        read_regular(path, 10)


def test_a_fifo_as_reconciler_yaml_is_refused_without_blocking(
    tmp_path: Path, unblock: None
) -> None:
    os.mkfifo(tmp_path / "reconciler.yaml")

    def load() -> list[str]:
        with pytest.raises(ValidationError) as caught:
            load_settings(tmp_path, None, {})
        return [str(p) for p in caught.value.problems]

    assert within_deadline(load) == [
        "reconciler.yaml: cannot read: is a FIFO (named pipe), not a regular file"
    ]


def test_a_directory_named_reconciler_yaml_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").mkdir()
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {})
    assert [str(p) for p in caught.value.problems] == [
        "reconciler.yaml: cannot read: is a directory, not a file"
    ]


def test_a_link_loop_and_a_dangling_link_are_located_problems(project: Project) -> None:
    agents = project.root / "agents.d"
    os.symlink("b.yaml", agents / "a.yaml")
    os.symlink("a.yaml", agents / "b.yaml")
    os.symlink("missing.yaml", agents / "c.yaml")
    assert errors_of(project) == [
        "agents.d/a.yaml: cannot read: Too many levels of symbolic links",
        "agents.d/b.yaml: cannot read: Too many levels of symbolic links",
        "agents.d/c.yaml: cannot read: No such file or directory",
    ]


def test_a_manifest_suffix_in_capitals_is_an_error_not_a_removed_agent(project: Project) -> None:
    # Renamed to x.YAML, the file would be skipped and its agent planned for a stop; it is
    # named instead (hidden files and other suffixes are still skipped).
    project.agent("x.YAML", "x")
    project.agent("y.Yml", "y")
    project.write("agents.d/notes.txt", "not: [yaml")
    project.write("agents.d/x.yaml.bak", "not: [yaml")
    project.write("agents.d/.x.YAML", "not: [yaml")
    message = "not read: a manifest's file name ends in .yaml or .yml, in lowercase (rename it)"
    assert project.errors() == [f"agents.d/x.YAML: {message}", f"agents.d/y.Yml: {message}"]
