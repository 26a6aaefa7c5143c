"""Chaos runner: kill ``reconciler apply`` at random moments, apply again, count what was lost.

Serves the sandbox engine (``reconciler sandbox serve``, in-memory, with latency), generates
a project of N agents pointed at it, and runs:

1. **Fresh starts**: each trial resets the engine and the state, starts ``apply --auto-approve``
   of N agents, ``kill -9``s it at a seeded random moment, then applies again (no kill).
2. **Changes between trials** (the harder variant): the project carries on from trial to trial;
   each trial first makes a random change set (agents removed, added back, prompts edited =
   in-place updates, TTS vendors switched = restarts) and the interrupting signal is SIGKILL,
   SIGTERM or SIGINT.
3. **Faults**: rounds of random changes applied while the engine answers 30% 503s, 20% 429s
   with Retry-After, drops 5% of connections and adds 10-40 ms of latency.

4. **Two states on one App ID**: project A runs its agents; project B (the same manifests, its
   own state: a second team, a staging copy) applies on the same engine while the engine drops
   B's first join before processing it, or processes it and drops the answer, or delays B's joins
   while B is killed with ``kill -9`` (then B plans and applies again); then B destroys. A
   *foreign action* is any agent of A that B records, plans to adopt, or stops. Prints
   ``two states: N trials, foreign actions: 0`` (the bound is 0).

After every trial: the active agents on the engine equal the manifests exactly (no duplicate,
no orphan, none missing), the state agrees with the engine, and the journal is empty.
Prints ``kill trials: N, converged: N, orphans: 0, duplicates: 0`` per section, with timings.
Exit status 1 if any trial did not converge.

With ``--state postgres`` the project keeps its state in a throwaway PostgreSQL database
(``reconciler_chaos_<random>`` on the server of ``--pg-url``, default ``RECONCILER_TEST_PG_URL``
or ``postgresql://postgres@127.0.0.1:5432/postgres``; dropped at the end): every kill then also
tests that the advisory lock dies with the killed run's session (no trial unlocks anything).

Usage: python bench/chaos.py [--trials 200] [--change-trials 100] [--fault-rounds 5]
                             [--two-state-trials 30] [--two-state-agents 3]
                             [--agents 50] [--latency-ms 30] [--parallelism 5] [--seed 1]
                             [--state local|postgres] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchlib import PG_SERVER_URL, throwaway_database  # noqa: E402

from tests.reliability.chaos_harness import (  # noqa: E402
    APP_ID,
    ENGINE_ACTIVE,
    FLAKY_FAULTS,
    ChaosProject,
    Figures,
    Trial,
    agent_specs,
    calibrate,
    check_converged,
    mutate,
    run_kill_trials,
    start_engine,
)


class PgChaosProject(ChaosProject):
    """A chaos project whose state lives in PostgreSQL (read and forgotten through the database)."""

    def __init__(self, directory: Path, engine: Any, state_url: str, **settings: Any) -> None:
        super().__init__(directory, engine, state=state_url, **settings)
        from reconciler.models.settings import Settings
        from reconciler.state import open_backend

        self._settings = Settings(
            project_dir=directory, state=state_url, app_id=APP_ID, engine=engine.url
        )
        self._open = open_backend

    def state(self) -> dict[str, Any] | None:
        backend = self._open(self._settings, {})
        if not backend.store.exists:
            return None
        doc: dict[str, Any] = backend.store.load().model_dump(mode="json")
        return doc

    def forget_state(self) -> None:
        import psycopg

        with psycopg.connect(self._settings.state, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('reconciler_states')").fetchone() != (None,):
                conn.execute("DELETE FROM reconciler_states")


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(title: str, figures: Figures, started: float) -> None:
    trials = figures.trials
    recovery = [t.recovery.seconds for t in trials]
    whole = [t.seconds for t in trials]
    signals = {s: sum(1 for t in trials if t.signal == s) for s in ("SIGKILL", "SIGTERM", "SIGINT")}
    exits: dict[str, int] = {}
    for t in trials:
        key = "finished before the signal" if t.killed_code is None else f"exit {t.killed_code}"
        exits[key] = exits.get(key, 0) + 1
    print(title)
    print(figures.line())
    print(
        f"  missing: {figures.missing}; interrupted mid-run: {figures.interrupted}, "
        f"finished before the signal: {len(trials) - figures.interrupted}"
    )
    print("  signals: " + ", ".join(f"{k} {v}" for k, v in signals.items() if v))
    print("  interrupted runs: " + ", ".join(f"{k}: {v}" for k, v in sorted(exits.items())))
    print(
        f"  recovery apply: p50 {statistics.median(recovery):.2f}s, p95 {pct(recovery, 0.95):.2f}s,"
        f" max {max(recovery):.2f}s; whole trial p50 {statistics.median(whole):.2f}s; "
        f"section {time.monotonic() - started:.0f}s"
    )
    for trial in trials:
        if not trial.converged:
            print("  NOT CONVERGED: " + trial.describe().replace("\n", "\n    "))
    sys.stdout.flush()


def progress(total: int) -> object:
    def show(trial: Trial) -> None:
        mark = "." if trial.converged else "X"
        end = "\n" if (trial.index + 1) % 50 == 0 or trial.index + 1 == total else ""
        print(mark, end=end, file=sys.stderr, flush=True)

    return show


def fault_rounds(project: ChaosProject, n_agents: int, rounds: int, rng: random.Random) -> bool:
    engine = project.engine
    engine.reset()
    project.forget_state()
    project.set_agents(agent_specs(n_agents))
    project.write_settings(max_attempts=12, parallelism=10)
    pool = [s.name for s in agent_specs(n_agents + 10)]
    seconds: list[float] = []
    causes: dict[str, int] = {}
    converged = 0
    problems: list[str] = []
    for index in range(rounds + 1):
        if index:
            specs, _ = mutate(project.specs, rng, pool)
            project.set_agents(specs)
        engine.faults(**FLAKY_FAULTS, seed=rng.randrange(1 << 30))
        result = project.run("-v", "apply", "--auto-approve")
        engine.calm()
        seconds.append(result.seconds)
        for match in re.finditer(
            r"^retry: \w+ attempt \d+/\d+ failed \(([^)]*)\)", result.stderr, re.M
        ):
            cause = match.group(1)
            causes[cause] = causes.get(cause, 0) + 1
        check = check_converged(project)
        if result.code == 0 and check.ok:
            converged += 1
        else:
            problems.append(f"round {index}: exit {result.code}; {check.problems}\n{result}")
    print(
        f"faults (30% 503, 20% 429 with Retry-After 1 s, 5% dropped connections, 10-40 ms "
        f"latency; max_attempts 12), {n_agents} agents, first apply + {rounds} change rounds:"
    )
    print(f"  applies: {rounds + 1}, converged: {converged}")
    print("  retries: " + ", ".join(f"{k}: {v}" for k, v in sorted(causes.items())))
    print(f"  apply under faults: p50 {statistics.median(seconds):.2f}s, max {max(seconds):.2f}s")
    for problem in problems:
        print("  NOT CONVERGED: " + problem.replace("\n", "\n    "))
    project.write_settings(max_attempts=None, parallelism=None)
    return not problems


TWO_STATE_MODES = ("drop", "drop_after", "delay+kill -9")


def two_state_trial(
    a: ChaosProject, b: ChaosProject, mode: str, rng: random.Random
) -> tuple[int, list[str]]:
    """One trial of section 4: (foreign actions, problems). Both projects start from no state."""
    engine = a.engine
    engine.reset()
    a.forget_state()
    b.forget_state()
    problems: list[str] = []
    first = a.apply()
    state_a = a.state() or {}
    theirs = {r["agent_id"] for r in state_a.get("agents", {}).values()}
    if first.code != 0 or len(theirs) != len(a.specs):
        return 0, [f"A's apply did not start its agents: {first}"]
    foreign = 0
    plan_text = ""
    if mode == "delay+kill -9":
        engine.add_rule(route="join", action="delay", delay_ms=1500)
        process = b.popen("apply", "--auto-approve")
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=rng.uniform(0.3, 1.4))
        process.kill()
        process.communicate()
        engine.calm()
        plan = b.run("plan")
        plan_text = plan.stdout + plan.stderr
        result = b.apply()
    else:
        engine.add_rule(route="join", action=mode, times=1)  # B's first join
        result = b.apply()
        engine.calm()
    if result.code != 0:
        problems.append(f"B's apply failed: {result}")
    state_b = b.state() or {}
    ours = {r["agent_id"] for r in state_b.get("agents", {}).values()}
    foreign += len(ours & theirs)  # A's agents recorded by B
    adoptions = [line for line in plan_text.splitlines() if "adopt" in line]
    foreign += sum(1 for i in theirs if any(i in line for line in adoptions))  # or would adopt
    destroyed = b.run("destroy", "--auto-approve")
    if destroyed.code != 0:
        problems.append(f"B's destroy failed: {destroyed}")
    engine.settle()
    active = {x["agent_id"] for x in engine.agents() if x["status"] in ENGINE_ACTIVE}
    foreign += len(theirs - active)  # A's agents stopped by B
    if active != theirs:
        problems.append(f"after B's destroy the engine runs {len(active)} agents, A has {theirs}")
    return foreign, problems


def two_states(work: Path, engine: Any, trials: int, n_agents: int, rng: random.Random) -> bool:
    """Section 4 (see the module docstring); prints its figures, returns whether all held."""
    specs = agent_specs(n_agents, prefix="support")
    a = ChaosProject(work / "team-a", engine)
    b = ChaosProject(work / "team-b", engine)
    a.set_agents(specs)
    b.set_agents(specs)
    started = time.monotonic()
    foreign = 0
    problems: list[str] = []
    by_mode = dict.fromkeys(TWO_STATE_MODES, 0)
    for index in range(trials):
        mode = TWO_STATE_MODES[index % len(TWO_STATE_MODES)]
        by_mode[mode] += 1
        found, trouble = two_state_trial(a, b, mode, rng)
        foreign += found
        problems += [f"trial {index} ({mode}): {p}" for p in trouble]
        print("." if not found and not trouble else "X", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(
        f"two states on one App ID ({n_agents} agents each, same manifests; B's first join "
        "dropped, its answer dropped, or B's joins delayed and B killed with kill -9):"
    )
    print(
        f"  two states: {trials} trials ("
        + ", ".join(f"{mode} {n}" for mode, n in by_mode.items())
        + f"), foreign actions: {foreign} (bound 0); {time.monotonic() - started:.0f}s"
    )
    for problem in problems:
        print("  PROBLEM: " + problem.replace("\n", "\n    "))
    sys.stdout.flush()
    return foreign == 0 and not problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="fresh-start kill trials")
    parser.add_argument(
        "--change-trials",
        type=int,
        default=100,
        help="kill trials with random changes between them",
    )
    parser.add_argument("--fault-rounds", type=int, default=5)
    parser.add_argument(
        "--two-state-trials", type=int, default=30, help="trials of two states on one App ID"
    )
    parser.add_argument("--two-state-agents", type=int, default=3)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--parallelism", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state", choices=("local", "postgres"), default="local")
    parser.add_argument(
        "--pg-url",
        default=PG_SERVER_URL,
        help="server for --state postgres (a database to connect to for administration)",
    )
    args = parser.parse_args(argv)
    # Started in the background (nohup, `&` in a script), this process and so every apply it
    # starts would ignore SIGINT; restore it so SIGINT trials act like Ctrl-C in a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = random.Random(args.seed)
    began = time.monotonic()
    ok = True
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chaos-")))
        state_url = None
        if args.state == "postgres":
            state_url = stack.enter_context(throwaway_database(args.pg_url))
        engine = start_engine(work, stop_delay_s=0.2, seed=args.seed)
        try:
            engine.reset(latency_ms=args.latency_ms)
            project = (
                ChaosProject(work / "project", engine, parallelism=args.parallelism)
                if state_url is None
                else PgChaosProject(
                    work / "project", engine, state_url, parallelism=args.parallelism
                )
            )
            project.set_agents(agent_specs(args.agents))
            fastest = calibrate(project, runs=3)
            window = 0.9 * fastest
            print(
                f"chaos: {args.agents} agents, sandbox latency {args.latency_ms:g} ms, "
                f"parallelism {args.parallelism}, seed {args.seed}, state {args.state}"
            )
            print(
                f"kill moment: uniform in 0-{window:.2f}s after launch (0.9 x the fastest full "
                f"apply of {args.agents} agents, {fastest:.2f}s)"
            )
            sys.stdout.flush()
            if args.trials:
                started = time.monotonic()
                figures = run_kill_trials(
                    project,
                    args.agents,
                    args.trials,
                    rng,
                    with_changes=False,
                    window_s=window,
                    on_trial=progress(args.trials),
                )
                report(f"fresh starts of {args.agents} agents, SIGKILL:", figures, started)
                ok &= figures.converged == len(figures.trials)
            if args.change_trials:
                started = time.monotonic()
                figures = run_kill_trials(
                    project,
                    args.agents,
                    args.change_trials,
                    rng,
                    with_changes=True,
                    window_s=window,
                    signals=("SIGKILL", "SIGTERM", "SIGINT"),
                    on_trial=progress(args.change_trials),
                )
                report(
                    "random changes between trials (removals, additions, in-place updates, "
                    "restarts), SIGKILL/SIGTERM/SIGINT:",
                    figures,
                    started,
                )
                ok &= figures.converged == len(figures.trials)
            if args.fault_rounds:
                ok &= fault_rounds(project, min(args.agents, 20), args.fault_rounds, rng)
            if args.two_state_trials:
                engine.reset()
                ok &= two_states(work, engine, args.two_state_trials, args.two_state_agents, rng)
        finally:
            engine.stop()
    print(f"total: {time.monotonic() - began:.0f}s; {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
