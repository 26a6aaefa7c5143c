"""Read-only commands write nothing, and outside a project no command writes anything: it says
which file is missing and how to point at the project.

"Nothing" is every byte the tool could touch: the project's tree (the embedded sandbox's
``.sandbox/`` and lock files included), the user's home and cache directories, the temporary
directory, and with a PostgreSQL state every row of its tables; on a fresh project (no sandbox
database, no state yet) and after an apply, against the embedded sandbox and a served one.
``plan --out FILE`` and ``pull --out FILE`` write that file and nothing else.

Which commands are read-only is declared on each command
(:func:`reconciler.cli.readonly.read_only`); :func:`test_every_command_is_read_only_or_a_writer`
makes a new command choose, and every read-only one have a case here.

Regressions: every plan created ``state/agents.json.lock``; ``plan --out`` created
``state/agents.json``; in a directory that is not a project (even inside ``agents.d/``) plan
wrote ``state/agents.json.lock`` before failing; plan, status, drift and pull created (and
then rewrote) the embedded sandbox's ``.sandbox/engine.db``, ``.sandbox/.gitignore`` and the
``.sandbox/`` directory.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from reconciler.cli.readonly import declared_read_only
from reconciler.sandbox import SandboxConfig, create_app
from reconciler.sandbox.store import Store
from reconciler.state import StateLock
from tests.cli.cli_helpers import (
    Snapshot,
    commands,
    example_project,
    example_with_environments,
    snapshot,
)
from tests.cli.platform_project import console
from tests.reliability.inproc import CliResult, ThreadServer, run_cli

READ_ONLY: list[tuple[str, ...]] = [
    ("validate",),
    ("validate", "--format", "json"),
    ("schema",),
    ("plan",),
    ("plan", "--no-refresh"),
    ("plan", "--format", "json"),
    ("plan", "--format", "markdown"),
    ("plan", "--destroy"),
    ("plan", "--detailed-exitcode"),
    ("plan", "--out", "{out}"),
    ("show", "{saved}"),
    ("drift",),
    ("status",),
    ("pull",),
    ("pull", "--out", "{pulled}"),
    ("state", "list"),
    ("state", "show"),
    ("state", "pull"),
    ("state", "where"),
    ("help",),
    ("help", "environment"),
    ("--version",),
]
"""Every read-only command, with the options that change what it reads."""

WRITERS = frozenset(
    {"init", "apply", "destroy", "import", "force-unlock", "watch", "state push", "state mv",
     "state rm", "state unprotect", "state rebind", "sandbox serve"}
)  # fmt: skip
"""The commands that write (the project's state, its files, or the engine)."""

ON_THE_STATE: list[tuple[str, ...]] = [
    c for c in READ_ONLY if c[0] in {"plan", "drift", "status", "pull", "state", "validate"}
]
"""The read-only commands that read the state or the engine (the PostgreSQL and served runs)."""

EVERY_PROJECT_COMMAND = [
    ("validate",),
    ("plan",),
    ("plan", "--out", "{out}"),
    ("apply", "--auto-approve"),
    ("apply", "{saved}"),
    ("destroy", "--auto-approve"),
    ("state", "list"),
    ("state", "show"),
    ("force-unlock", "0123"),
    ("drift",),
    ("import", "concierge", "AGENT0123"),
    ("state", "rm", "concierge"),
    ("state", "mv", "concierge", "lobby"),
]

CERTIFICATE = "5a4d1c3b2e6f708192a3b4c5d6e7f809"  # the example's sandbox default


def _args(
    template: tuple[str, ...], out: Path, saved: Path, pulled: Path | None = None
) -> list[str]:
    pulled = pulled or out.with_suffix(".yaml")
    return [a.format(out=out, saved=saved, pulled=pulled) for a in template]


def _ran(result: CliResult, command: tuple[str, ...], state: str) -> None:
    """The command ran as a user expects: no defect, the exit code of its outcome."""
    assert "Traceback" not in result.output and "Internal error" not in result.output, result
    if state == "fresh" and command in {("state", "show"), ("state", "pull")}:
        assert result.code == 1, result  # nothing recorded yet: an error, nothing written
    else:
        assert result.code in (0, 2), result  # 2: changes (plan --detailed-exitcode), drift


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The user's home (its cache, config and data directories) and the temporary directory,
    fresh and empty, for the commands of the test to use if they write anything there."""
    home = tmp_path / "home"
    temp = tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable, below in (
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(variable, str(home / below))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return [home, temp]


def _everything(roots: list[Path]) -> dict[str, Snapshot]:
    return {str(root): snapshot(root) for root in roots}


@pytest.fixture
def saved_plan(tmp_path: Path) -> Path:
    """A plan saved from another copy of the project (outside the tree under test)."""
    other = example_project(tmp_path / "other")
    path = tmp_path / "saved.plan"
    assert run_cli("-C", str(other), "plan", "--out", str(path)).code == 0
    return path


def test_every_command_is_read_only_or_a_writer() -> None:
    """Each command declares whether it writes; every read-only one is among the cases."""
    for path, command in commands():
        name = " ".join(path)
        assert declared_read_only(command) != (name in WRITERS), name
        if declared_read_only(command):
            assert any(case[: len(path)] == path for case in READ_ONLY), name


@pytest.mark.parametrize("state", ["fresh", "applied"])
@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_read_only_command_writes_nothing(
    tmp_path: Path,
    saved_plan: Path,
    outside: list[Path],
    command: tuple[str, ...],
    state: str,
) -> None:
    project = example_project(tmp_path / "project")
    if state == "applied":
        assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0
        assert (project / ".sandbox" / "engine.db").is_file()
    out = tmp_path / "out.plan"
    pulled = tmp_path / "pulled.yaml"
    before = _everything([project, *outside])

    result = run_cli("-C", str(project), *_args(command, out, saved_plan, pulled))

    _ran(result, command, state)
    assert _everything([project, *outside]) == before
    assert ("{out}" in command) == out.is_file()
    assert not pulled.is_file()  # nothing to pull (nothing made outside): nothing written


@pytest.mark.parametrize("state", ["fresh", "applied"])
@pytest.mark.parametrize(
    "command",
    [("plan",), ("plan", "--format", "json"), ("validate",), ("status",), ("drift",)],
    ids=" ".join,
)
def test_every_environment_of_a_read_only_command_writes_nothing(
    tmp_path: Path, outside: list[Path], command: tuple[str, ...], state: str
) -> None:
    """The example project's environments: ``--env all`` (plan, validate), or each one."""
    project = example_with_environments(tmp_path / "project")
    if state == "applied":
        assert run_cli("-C", str(project), "--env", "staging", "apply", "--auto-approve").code == 0
    chosen = ["all"] if command[0] in {"plan", "validate"} else ["staging", "prod"]
    before = _everything([project, *outside])

    for env in chosen:
        result = run_cli("-C", str(project), "--env", env, *command)
        assert result.code in (0, 2), result

    assert _everything([project, *outside]) == before


@pytest.mark.parametrize("path", [(), *(p for p, _ in commands())], ids=" ".join)
def test_the_help_of_every_command_writes_nothing(
    tmp_path: Path, outside: list[Path], path: tuple[str, ...]
) -> None:
    project = example_project(tmp_path / "project")
    before = _everything([project, *outside])

    result = run_cli("-C", str(project), *path, "--help")

    assert result.code == 0, result
    assert _everything([project, *outside]) == before


def test_shell_completion_writes_nothing(tmp_path: Path, outside: list[Path]) -> None:
    project = example_project(tmp_path / "project")
    before = _everything([project, *outside])

    result = run_cli(
        env={
            "_RECONCILER_COMPLETE": "bash_complete",
            "COMP_WORDS": f"reconciler -C {project} plan --target ",
            "COMP_CWORD": "5",
        }
    )

    assert result.code == 0, result
    assert "concierge" in result.stdout
    assert _everything([project, *outside]) == before


@pytest.mark.parametrize(
    ("command", "written"),
    [
        (("plan", "--out", "saved.plan"), "saved.plan"),
        (("pull", "--out", "agents.d/pulled.yaml"), "agents.d/pulled.yaml"),
    ],
    ids=["plan", "pull"],
)
def test_out_writes_that_file_and_nothing_else(
    tmp_path: Path, outside: list[Path], command: tuple[str, ...], written: str
) -> None:
    """``--out`` inside the project: the file (and the mtime of its directory) is all that
    changes (pull of a saved agent made outside; with nothing to pull it writes nothing)."""
    project = example_project(tmp_path / "project")
    assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0
    if command[0] == "pull":
        console(project, "create_agent", {"agent_name": "console-made"})
    before = _everything([project, *outside])

    result = run_cli("-C", str(project), command[0], command[1], str(project / command[2]))

    assert result.code == 0, result
    after = _everything([project, *outside])
    changed = {
        path
        for root in after
        for path in set(after[root]) | set(before[root])
        if after[root].get(path) != before[root].get(path)
    }
    assert changed == {written, str(Path(written).parent)} - {"."}


def _rows(url: str) -> dict[str, list[str]]:
    """Every row of every table of the database (as JSON text, sorted)."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            str(row[0])
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname NOT IN "
                "('pg_catalog', 'information_schema') ORDER BY tablename"
            ).fetchall()
        ]
        return {
            table: sorted(
                str(row[0])
                for row in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t').fetchall()
            )
            for table in tables
        }


@pytest.mark.parametrize("state", ["fresh", "applied"])
@pytest.mark.parametrize("command", ON_THE_STATE, ids=" ".join)
def test_a_read_only_command_writes_no_row_of_a_postgresql_state(
    tmp_path: Path,
    saved_plan: Path,
    outside: list[Path],
    pg_url: str,
    command: tuple[str, ...],
    state: str,
) -> None:
    project = example_project(tmp_path / "project")
    settings = project / "reconciler.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("state: state/agents.json", f"state: {pg_url}"), "utf-8")
    if state == "applied":
        assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0
        assert _rows(pg_url)
    out = tmp_path / "out.plan"
    before = (_everything([project, *outside]), _rows(pg_url))

    result = run_cli("-C", str(project), *_args(command, out, saved_plan))

    _ran(result, command, state)
    assert (_everything([project, *outside]), _rows(pg_url)) == before


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ThreadServer]:
    """A sandbox served over HTTP (its database outside the project)."""
    config = SandboxConfig(app_certificate=CERTIFICATE, db_path=str(tmp_path / "served.db"))
    app = create_app(config)
    with ThreadServer(app) as server:
        yield server
    app.state.sandbox.close()


@pytest.mark.parametrize("state", ["fresh", "applied"])
@pytest.mark.parametrize("command", ON_THE_STATE, ids=" ".join)
def test_a_read_only_command_against_a_served_sandbox_writes_nothing(
    tmp_path: Path,
    saved_plan: Path,
    outside: list[Path],
    served: ThreadServer,
    command: tuple[str, ...],
    state: str,
) -> None:
    project = example_project(tmp_path / "project")
    env: dict[str, str | None] = {
        "RECONCILER_ENGINE": served.url,
        "RECONCILER_PLATFORM": served.url,
        "AGORA_CUSTOMER_ID": "sandbox",
        "AGORA_CUSTOMER_SECRET": "sandbox",
        "AGORA_APP_CERTIFICATE": CERTIFICATE,
        **{
            name: f"{name.lower()}-value"
            for name in (
                "OPENAI_API_KEY",
                "AZURE_TTS_KEY",
                "DEEPGRAM_API_KEY",
                "ELEVENLABS_API_KEY",
                "SIP_PASSWORD",
            )
        },
    }
    if state == "applied":
        applied = run_cli("-C", str(project), "apply", "--auto-approve", env=env)
        assert applied.code == 0, applied
    out = tmp_path / "out.plan"
    before = _everything([project, *outside])

    result = run_cli("-C", str(project), *_args(command, out, saved_plan), env=env)

    _ran(result, command, state)
    assert _everything([project, *outside]) == before
    assert not (project / ".sandbox").exists()


def _sandbox_agents(project: Path) -> dict[str, float]:
    """Each agent of the embedded sandbox's database: its id and when it stops being active."""
    store = Store(str(project / ".sandbox" / "engine.db"), read_only=True)
    try:
        return {record.agent_id: record.terminal_at for record in store.all()}
    finally:
        store.close()


def _recorded(project: Path) -> dict[str, str]:
    state = json.loads(run_cli("-C", str(project), "state", "show").stdout)
    return {name: record["agent_id"] for name, record in state["agents"].items()}


def test_the_writers_still_write_the_sandbox_database(tmp_path: Path) -> None:
    """apply starts agents in ``.sandbox/engine.db`` for the next process to see, import
    records one (state rm forgot it), destroy stops them there; a plan in between changes
    none of it."""
    project = example_project(tmp_path / "project")
    assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0
    started = _sandbox_agents(project)
    recorded = _recorded(project)
    assert set(started) == set(recorded.values()) and len(started) == 3
    assert all(ends > time.time() for ends in started.values())
    assert run_cli("-C", str(project), "state", "rm", "concierge", "--force").code == 0
    assert "concierge" not in _recorded(project)

    assert run_cli("-C", str(project), "plan").code == 0
    assert _sandbox_agents(project) == started
    imported = run_cli(
        "-C", str(project), "import", "concierge", recorded["concierge"], "--assume-matches"
    )
    assert imported.code == 0, imported
    assert _recorded(project) == recorded
    assert run_cli("-C", str(project), "destroy", "--auto-approve").code == 0

    stopped = _sandbox_agents(project)
    assert set(stopped) == set(started)
    assert all(ends < started[agent] for agent, ends in stopped.items())


def test_plan_reads_state_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    project = example_project(tmp_path / "project")
    assert run_cli("-C", str(project), "apply", "--auto-approve").code == 0

    with StateLock(project / "state" / "agents.json", command="apply"):
        planned = run_cli("-C", str(project), "plan", "--detailed-exitcode")

    assert planned.code == 0, planned
    assert "No changes." in planned.stdout


@pytest.mark.parametrize("command", EVERY_PROJECT_COMMAND, ids=" ".join)
def test_outside_a_project_nothing_is_written_and_the_error_hints_at_dash_c(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    saved_plan: Path,
    command: tuple[str, ...],
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = run_cli(*_args(command, elsewhere / "out.plan", saved_plan))

    assert result.code == 1, result
    assert f"{elsewhere} is not a reconciler project" in result.stderr
    assert "it has no reconciler.yaml and no agents.d/ directory" in result.stderr
    assert "pass -C DIR, or create one with `reconciler init`" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(elsewhere) == {}


@pytest.mark.parametrize("command", EVERY_PROJECT_COMMAND, ids=" ".join)
def test_inside_agents_d_nothing_is_written_and_the_error_names_the_project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    saved_plan: Path,
    command: tuple[str, ...],
) -> None:
    project = example_project(tmp_path / "project")
    before = snapshot(project)
    monkeypatch.chdir(project / "agents.d")

    result = run_cli(*_args(command, tmp_path / "out.plan", saved_plan))

    assert result.code == 1, result
    assert f"the project is {project.resolve()}: run there, or pass -C .." in result.stderr
    assert snapshot(project) == before


def test_a_missing_project_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    result = run_cli("-C", str(missing), "plan")

    assert result.code == 1, result
    assert f"project directory {missing} not found" in result.stderr
    assert not missing.exists()
