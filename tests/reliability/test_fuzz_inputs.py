"""Issue 6, item 4: bad input never produces a traceback. Settings files, state files and saved
plans are fuzzed with hypothesis (random YAML and JSON, truncations, wrong types, huge strings,
deep nesting, non-finite numbers, unicode, binary) and fed to the CLI through its real entry
point: every outcome is success or a located error with exit 1 (3 for a stale plan), and a
corrupt state file is never overwritten (its bytes are the same after plan, apply and destroy).

Manifests are fuzzed in ``tests/manifests/test_manifests_fuzz.py``; not repeated here.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError, StateError
from reconciler.project import load_plan_file
from reconciler.state import LocalStateStore
from tests.reliability.chaos_harness import AgentSpec, base_env
from tests.reliability.inproc import CliResult, run_cli

ENV: dict[str, str | None] = {**base_env(), "RECONCILER_ENGINE": None, "RECONCILER_LOG": None}
SETTINGS = (
    "engine: sandbox\n"
    "app_id: 0123456789abcdef0123456789abcdef\n"
    "app_certificate: ${AGORA_APP_CERTIFICATE}\n"
    "state: state/agents.json\n"
    "max_concurrent_agents: 20\n"
    "parallelism: 10\n"
)


class Fixture:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.state = self.backup = self.plan = b""

    @property
    def state_file(self) -> Path:
        return self.dir / "state" / "agents.json"

    @property
    def backup_file(self) -> Path:
        return self.dir / "state" / "agents.json.backup"

    @property
    def plan_file(self) -> Path:
        return self.dir / "plan.json"

    def __repr__(self) -> str:
        return f"Fixture({self.dir})"

    def cli(self, *args: str) -> CliResult:
        return run_cli("-C", str(self.dir), *args, env=ENV)

    def restore(self) -> None:
        (self.dir / "reconciler.yaml").write_text(SETTINGS, encoding="utf-8")
        self.state_file.write_bytes(self.state)
        self.backup_file.write_bytes(self.backup)


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    """A project on the in-process sandbox, applied once, with a saved plan of one update."""
    directory = tmp_path_factory.mktemp("fuzz") / "project"
    (directory / "agents.d").mkdir(parents=True)
    (directory / "reconciler.yaml").write_text(SETTINGS, encoding="utf-8")
    # token: auto, as the project has an App Certificate (the sandbox then requires a token).
    for spec in (AgentSpec("a", token="auto"), AgentSpec("b", token="auto")):
        (directory / "agents.d" / f"{spec.name}.yaml").write_text(spec.yaml(), encoding="utf-8")
    fixture = Fixture(directory)
    applied = fixture.cli("apply", "--auto-approve")
    assert applied.code == 0, applied
    (directory / "agents.d" / "b.yaml").write_text(
        AgentSpec("b", "Edited.", token="auto").yaml(), "utf-8"
    )
    saved = fixture.cli("plan", "--out", str(fixture.plan_file))
    assert saved.code == 0, saved
    fixture.state = fixture.state_file.read_bytes()
    fixture.backup = fixture.backup_file.read_bytes()
    fixture.plan = fixture.plan_file.read_bytes()
    yield fixture
    shutil.rmtree(directory, ignore_errors=True)


def clean(result: CliResult) -> None:
    """No traceback and no "bug" report, whatever happened."""
    assert "Traceback" not in result.output, result
    assert "Internal error" not in result.output, result
    assert "This is a bug" not in result.output, result


# -- value strategies ---------------------------------------------------------------------------

HUGE = st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "é", "😀", "\x00", "${"]), st.integers(1, 70_000)
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**310)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | HUGE
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
DEEP = st.builds(
    lambda opener, closer, n, close: opener * n + (closer * n if close else ""),
    st.sampled_from(['{"a":', "["]),
    st.sampled_from(["}", "]"]),
    st.sampled_from([50, 990, 1_500, 100_000]),
    st.booleans(),
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths_of(child, (*prefix, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def lookup(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


ACTIONS = ["start", "stop", "update", "restart", "renew-token", "no-op"]


def like(value: Any) -> st.SearchStrategy[Any]:
    """Values of the type of ``value`` (an action name for an action name)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**70), 2**70) | st.sampled_from([0, -1, 1, 2**63])
    if isinstance(value, float):
        return st.floats(allow_nan=True, allow_infinity=True)
    if isinstance(value, str):
        return st.sampled_from(ACTIONS) if value in ACTIONS else st.text(max_size=40) | HUGE
    if isinstance(value, list):
        return st.lists(JSONISH, max_size=3) | st.just([])
    if isinstance(value, dict):
        return st.dictionaries(st.text(max_size=8), JSONISH, max_size=3) | st.just({})
    return JSONISH


def dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, indent=1).encode("utf-8", "surrogatepass")
    except ValueError:  # an integer beyond str()'s digit limit
        return b'{"serial": ' + b"9" * 5000 + b"}"


@st.composite
def json_file(draw: st.DrawFn, base: bytes) -> bytes:
    """A variant of the JSON document ``base``: a subtree replaced, truncated, a byte changed,
    or something else entirely."""
    kind = draw(st.sampled_from(["subtree", "subtree", "leaf", "leaf", "cut", "byte", "other"]))
    if kind == "leaf":  # a scalar changed, same type: the document often stays valid
        doc = json.loads(base)
        leaves = [p for p in paths_of(doc) if not isinstance(lookup(doc, p), (dict, list))]
        path = draw(st.sampled_from(leaves))
        return dumps(replaced(doc, path, draw(like(lookup(doc, path)))))
    if kind == "subtree":
        doc = json.loads(base)
        path = draw(st.sampled_from(paths_of(doc)))
        new = draw(JSONISH | DEEP.map(lambda text: {"raw": text}))
        return dumps(replaced(doc, path, new))
    if kind == "cut":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "byte":
        at = draw(st.integers(0, len(base) - 1))
        return base[:at] + bytes([draw(st.integers(0, 255))]) + base[at + 1 :]
    return draw(
        DEEP.map(str.encode)
        | st.binary(max_size=200)
        | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
        | JSONISH.map(dumps)
    )


# -- state files ---------------------------------------------------------------------------------

CORRUPT_STATE_COMMANDS = [
    ("plan", "--no-refresh"),
    ("plan",),
    ("plan", "--out", "out.json"),
    ("apply", "--auto-approve"),
    ("destroy", "--auto-approve"),
    ("state", "list"),
    ("state", "show"),
    ("drift",),
    ("state", "rm", "--force", "support-en"),
    ("state", "mv", "--force", "support-en", "support-main"),
]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_corrupt_state_file_is_a_located_error_and_is_never_overwritten(
    fx: Fixture, data: st.DataObject
) -> None:
    corrupt = check_state_file(fx, data.draw(json_file(fx.state), label="state"))
    event("corrupt state" if corrupt else "valid state")


def check_state_file(fx: Fixture, raw: bytes) -> bool:
    """Run the commands on state ``raw``; return whether it is corrupt."""
    fx.restore()
    fx.state_file.write_bytes(raw)
    try:
        LocalStateStore(fx.state_file).load()
        corrupt = False
    except StateError:
        corrupt = True
    if corrupt:
        commands = [*CORRUPT_STATE_COMMANDS, ("apply", str(fx.plan_file))]
        for args in commands:
            result = fx.cli(*args)
            clean(result)
            assert result.code == 1, (args, result)
            newer = f"{fx.state_file} was written by a newer reconciler" in result.stderr
            if not newer:
                assert f"state file {fx.state_file} is corrupt: " in result.stderr, (args, result)
                assert f"the previous version is in {fx.backup_file}" in result.stderr
            assert fx.state_file.read_bytes() == raw, args  # never overwritten
            assert fx.backup_file.read_bytes() == fx.backup, args
    else:  # still a valid document (e.g. a changed timestamp or name): nothing may crash
        for args in (("plan", "--no-refresh"), ("state", "list"), ("state", "show")):
            result = fx.cli(*args)
            clean(result)
            assert result.code in (0, 1), (args, result)
    return corrupt


# -- settings files ------------------------------------------------------------------------------

FILE_KEYS = [
    "engine",
    "app_id",
    "auth",
    "app_certificate",
    "state",
    "agents_dir",
    "sandbox_db",
    "max_concurrent_agents",
    "parallelism",
    "token_ttl_s",
    "token_renewal_window_s",
    "request_timeout_s",
    "max_attempts",
    "stop_wait_timeout_s",
]
PATHLIKE = {"state", "agents_dir", "sandbox_db"}
SAFE_PATHS = st.sampled_from(
    ["state/agents.json", "state/other.json", "agents.d", "missing/dir", "", ".", "a\x00b", "é/ü"]
)
ENGINES = st.sampled_from(
    [
        "sandbox",
        "us",
        "mars",
        "https://engine.example.com",
        "http://engine.example.com",
        "http://127.0.0.1:9",
        "ftp://example.com",
        "",
        "https://user:pw@example.com",
        "https://[::1",
        "http://localhost:99999",
        "https://example.com/?q=1",
    ]
)


@st.composite
def settings_value(draw: st.DrawFn, key: str) -> Any:
    if key in PATHLIKE:  # never a random path: the commands below would read it
        return draw(SAFE_PATHS | st.integers() | st.lists(st.integers(), max_size=2))
    if key == "engine":
        return draw(ENGINES | JSONISH)
    return draw(
        JSONISH
        | st.sampled_from(["${AGORA_APP_CERTIFICATE}", "${MISSING}", "${X:-1}", "$${", "basic"])
    )


@st.composite
def settings_text(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["mapping", "mapping", "cut", "raw", "deep", "bomb"]))
    if kind == "mapping":
        keys = draw(
            st.lists(
                st.sampled_from([*FILE_KEYS, "customer_secret", "enigne"]) | st.text(max_size=8),
                max_size=6,
            )
        )
        doc = {key: draw(settings_value(key)) for key in keys}
        try:
            return yaml.safe_dump(doc, allow_unicode=True)
        except yaml.YAMLError:
            return "engine: sandbox\n"
    if kind == "cut":
        return SETTINGS[: draw(st.integers(0, len(SETTINGS)))]
    if kind == "deep":
        n = draw(st.sampled_from([100, 600, 5_000, 40_000]))
        return draw(st.sampled_from(["engine: " + "[" * n, "- " * n + "x", "a: " + "{a: " * n]))
    if kind == "bomb":  # exponential expansion through aliases
        lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, 9)]
        return "\n".join(lines) + "\nengine: *a8\n"
    alphabet = st.sampled_from(list(" \n\t-:{}[],'\"#&*!|>%@`?$_.0123456789abcenst")) | (
        st.characters()
    )
    return draw(st.text(alphabet, max_size=120))


_EXCERPT_LINE = re.compile(r"^ +\d* \|")
"""A line of the source excerpt under a problem (`    12 | text`, `       | ^`)."""


def problem_lines(text: str) -> list[str]:
    """The lines of an error output without the source excerpts under its problems."""
    return [line for line in text.rstrip("\n").split("\n") if not _EXCERPT_LINE.match(line)]


def located(result: CliResult) -> bool:
    lines = problem_lines(result.stderr)
    if not lines or not lines[0].startswith("Error: "):
        return False
    if "problem" not in lines[0]:
        return "reconciler.yaml" in lines[0] or "agents.d" in lines[0] or "state" in lines[0]
    return all(
        line.startswith(
            (
                "  reconciler.yaml",
                "  agents.d",
                "  missing",
                "  RECONCILER_ENGINE",
                "  é",
                "  state",
                "  .",
                "  a",
            )
        )
        for line in lines[1:]
    )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=settings_text())
def test_any_settings_file_gives_a_result_or_located_errors(fx: Fixture, text: str) -> None:
    fx.restore()
    (fx.dir / "reconciler.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
    for args in (("validate",), ("plan", "--no-refresh")):
        result = fx.cli(*args)
        clean(result)
        assert result.code in (0, 1), (args, result)
        if result.code == 1:
            assert located(result), (args, text[:300], result)


# -- saved plans ---------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_saved_plan_file_is_shown_applied_or_refused_with_a_located_error(
    fx: Fixture, data: st.DataObject
) -> None:
    fx.restore()
    raw = data.draw(json_file(fx.plan), label="plan")
    path = fx.dir / "fuzzed-plan.json"
    path.write_bytes(raw)
    try:
        load_plan_file(path)
        loads = True
    except ReconcilerError:
        loads = False
    event("plan loads" if loads else "plan refused")
    for args in (
        ("show", str(path)),
        ("show", str(path), "--format", "markdown"),
        ("show", str(path), "--format", "json"),
        ("apply", str(path)),
    ):
        result = fx.cli(*args)
        clean(result)
        if not loads:
            assert result.code == 1, (args, result)
            assert f"{path}" in result.stderr, (args, result)
            assert "problem in plan" in result.stderr
        else:
            assert result.code in (0, 1, 3), (args, result)
    assert fx.state_file.read_bytes() == fx.state or loads


# -- regressions found by the fuzzers ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"version": 1, "lineage": ' + b"[" * 100_000, b'{"serial": ' + b"9" * 5000 + b"}"],
    ids=["nested-100000", "5000-digit-number"],
)
def test_regression_deeply_nested_or_huge_number_state_is_corrupt_not_a_crash(
    fx: Fixture, raw: bytes
) -> None:
    """Was: RecursionError / ValueError from json.loads escaped as "Internal error"."""
    check_state_file(fx, raw)


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e300", "99999999999999", "-1e300"])
def test_regression_timestamps_no_date_matches_are_refused_or_shown_not_a_crash(
    fx: Fixture, value: str
) -> None:
    """Was: ``state list`` crashed (OverflowError/ValueError from datetime) on a started_at no
    calendar date matches, and ``plan`` on a non-finite one (int(-inf)). Non-finite timestamps
    now make the state corrupt (a located error); finite ones are listed as numbers."""
    doc = json.loads(fx.state)
    doc["agents"]["a"]["started_at"] = "@"
    raw = json.dumps(doc, indent=2).replace('"@"', value).encode()
    check_state_file(fx, raw)
    listed = fx.cli("state", "list")
    if value in ("NaN", "-Infinity"):
        assert listed.code == 1 and "a.started_at: Input should be a finite number" in listed.stderr
    else:
        assert listed.code == 0, listed
        assert f"{float(value):g} (not a date)" in listed.stdout


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"kind": "reconciler.plan", "plan": {"serial": ' + b"9" * 5000 + b"}}"],
    ids=["nested-100000", "5000-digit-number"],
)
def test_regression_deeply_nested_or_huge_number_saved_plan_is_a_located_error(
    fx: Fixture, raw: bytes
) -> None:
    """Was: RecursionError / ValueError from json.loads escaped as "Internal error"."""
    fx.restore()
    path = fx.dir / "bad-plan.json"
    path.write_bytes(raw)
    for args in (("show", str(path)), ("apply", str(path))):
        result = fx.cli(*args)
        clean(result)
        assert result.code == 1, result
        assert f"{path}: not a saved plan (invalid JSON" in result.stderr
    assert fx.state_file.read_bytes() == fx.state


@pytest.mark.parametrize(
    "text",
    ["engine: " + "[" * 40_000, "- " * 40_000 + "x", "a: " + "{a: " * 40_000 + "x"],
    ids=["flow-sequences", "block-sequences", "flow-mappings"],
)
@pytest.mark.slow
def test_regression_deeply_nested_yaml_is_a_located_error_not_a_segfault(
    tmp_path: Path, text: str
) -> None:
    """Was: libyaml's C composer recursed once per level and overflowed the C stack: the process
    died with SIGSEGV (exit -11), for settings files and manifests alike. Run in a subprocess,
    so a regression cannot take pytest down with it."""
    import subprocess
    import sys

    (tmp_path / "agents.d").mkdir()
    (tmp_path / "reconciler.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "agents.d" / "x.yaml").write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "reconciler", "-C", str(tmp_path), "validate"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)

    # Our own limit, or (for flow collections) libyaml's, which some builds enforce first.
    too_deep = ("nested more than 500 levels deep", "exceeded maximum nesting depth")
    assert done.returncode == 1, done
    assert "reconciler.yaml:1: invalid YAML: " in done.stderr
    assert any(reason in done.stderr for reason in too_deep), done.stderr
    (tmp_path / "reconciler.yaml").write_text("engine: sandbox\n", encoding="utf-8")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done
    assert "agents.d/x.yaml:1: invalid YAML: " in done.stderr
    assert any(reason in done.stderr for reason in too_deep), done.stderr


def test_regression_an_unknown_key_cannot_forge_lines_of_output(fx: Fixture) -> None:
    """Was: an unknown key was echoed raw, so a key holding a newline (or 70,000 characters)
    printed extra, fake-looking problem lines (or flooded the output)."""
    fx.restore()
    forged = "x\n  reconciler.yaml:9: all good, nothing to see"
    doc = {forged: 1, "y" * 70_000: 2, "engine": "sandbox"}
    (fx.dir / "reconciler.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = fx.cli("validate")
    assert result.code == 1, result
    lines = problem_lines(result.stderr)
    assert lines[0] == "Error: 2 problems in settings:"
    assert len(lines) == 3, lines
    assert "unknown key 'x\\n  reconciler.yaml:9: all good, nothing to see' in settings" in lines[1]
    assert max(len(line) for line in result.stderr.split("\n")) < 200
    fx.restore()
