"""A few seconds of benchmarks for every CI log: each figure beside its bound, never a failure.

CI machines are shared and noisy, so this script only *shows* the figures (a regression is
then visible in the log of the change that caused it); it exits 0 whatever they are, and
non-zero only when a measurement itself cannot run. The full benchmarks and their bounds are the
other scripts of ``bench/`` (README, "Performance").

Figures, each small enough to take about a second:

- sandbox: CPU time of a join, of a list page (RUNNING, with its total) and of a join with a
  webhook registered (the notifier sweeps after it) with 200 and with 2,000 agents in one App
  ID, in process (no HTTP); bound: the 2,000-agent figure within 1.2 x the 200-agent one (the
  sandbox's work per request does not grow with the number of agents);
- plan: ``reconciler plan --no-refresh`` of 300 manifests, 10% changed, one process, against
  PyYAML's C loader reading the same files; the bound 1.5 x is the one of 5,000 manifests,
  where start-up weighs less: at 300 the ratio is higher and shown for its trend;
- apply: ``reconciler apply --auto-approve --parallelism 20`` of 100 new agents, L = 20 ms,
  start-up subtracted, against a bare httpx client sending the same joins (bound 1.15 x as for
  N = 200 and 1,000, where the fixed costs weigh less).

Usage: python bench/ci_quick.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import apply_scale
import benchlib as b
import plan_scale

JOIN_SAMPLE = 300
PAGES = 20


def _sandbox_figures(size: int) -> tuple[float, float, float]:
    """CPU ms of a join, of a list page (limit 100, from a cursor, RUNNING: the default state
    filter, with its total) and of a join followed by the notifier's sweep with a webhook
    registered (nothing is delivered: no event loop runs), with `size` agents."""
    from reconciler.sandbox import engine_ops as ops
    from reconciler.sandbox.config import SandboxConfig
    from reconciler.sandbox.core import Sandbox
    from reconciler.sandbox.ncs import Notifier

    sb = Sandbox(SandboxConfig(pcu_limit=10**9))

    def join(i: int) -> None:
        body = {"name": b.agent_name(i), "properties": {
            "channel": f"room-{i:05d}", "agent_rtc_uid": str(100_000 + i),
            "remote_rtc_uids": ["*"], "llm": {"url": "https://llm.example/v1"},
            "tts": {"vendor": "microsoft", "params": {"key": "k"}},
        }}  # fmt: skip
        ops.join(sb, b.APP_ID, json.dumps(body).encode())

    for i in range(size):
        join(i)
    started = time.process_time()
    for i in range(size, size + JOIN_SAMPLE):
        join(i)
    per_join = (time.process_time() - started) / JOIN_SAMPLE
    cursor = ops.list_agents(sb, b.APP_ID, {"limit": "100"})["meta"]["cursor"]
    started = time.process_time()
    for _ in range(PAGES):
        ops.list_agents(sb, b.APP_ID, {"limit": "100", "cursor": cursor})
    per_page = (time.process_time() - started) / PAGES
    notifier = Notifier(sb, (("http://127.0.0.1:9/hook", "secret"),))
    sb.clock.advance(60.0)  # the joins above fall behind the sweep's slack
    notifier.sweep()
    first = size + JOIN_SAMPLE
    started = time.process_time()
    for i in range(first, first + JOIN_SAMPLE):
        join(i)
        notifier.sweep()
    per_hooked = (time.process_time() - started) / JOIN_SAMPLE
    sb.close()
    return 1000 * per_join, 1000 * per_page, 1000 * per_hooked


def sandbox() -> None:
    small = _sandbox_figures(200)
    large = _sandbox_figures(2_000)
    for index, what in enumerate(("join", "list page of 100", "join + sweep with a webhook")):
        ratio = large[index] / small[index]
        b.verdict(f"ci sandbox {what}, CPU at 2,000 agents / at 200", ratio, 1.2,
                  f"{large[index]:.3f} ms / {small[index]:.3f} ms = {ratio:.2f}")  # fmt: skip


def plan(tmp: Path) -> None:
    directory = tmp / "plan-300"
    plan_scale.make(directory, 300)
    plan_scale.plan_once(directory, workers=1)  # warm-up (bytecode, page cache)
    floor = plan_scale.floor_once(directory)
    wall = plan_scale.plan_once(directory, workers=1).wall
    b.verdict("ci plan 300 manifests, 10% changed, text, one process / C-loader floor",
              wall / floor, plan_scale.FLOOR_RATIO_BOUND,
              f"{wall:.2f} s / {floor:.3f} s = {wall / floor:.1f} (the bound is for 5,000; "
              "start-up included here)")  # fmt: skip


def apply(tmp: Path) -> None:
    start = b.startup_time(3)
    floor = apply_scale.client_run(tmp, 100, 20.0, 20)
    run = apply_scale.apply_run(tmp, 100, 20.0, 20)
    ratio = (run["wall"] - start) / floor
    b.verdict("ci apply 100 new, P=20, L=20 ms, (wall - start-up) / bare httpx floor", ratio,
              apply_scale.BOUNDS["local"],
              f"({run['wall']:.2f} s - {start:.2f} s) / {floor:.2f} s = {ratio:.2f}; "
              f"CPU: apply {run['cpu']:.2f} s, its sandbox {run['sandbox_cpu']:.2f} s")  # fmt: skip


def main() -> int:
    started = time.perf_counter()
    sandbox()
    with tempfile.TemporaryDirectory(prefix="ci-bench-") as tmp_name:
        tmp = Path(tmp_name)
        plan(tmp)
        apply(tmp)
    print(
        f"ci bench: {time.perf_counter() - started:.1f} s in all; figures are shown, not "
        "enforced (shared machines are noisy): see README, Performance",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
