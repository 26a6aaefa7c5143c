"""Plan and apply of the Platform's kinds at scale, through the CLI, against a served sandbox.

Workload: a project of S secret sets (one key each, ``${VAR}``) and A saved agents, agent i
referencing ``$secrets.set_<i % S>.key``; no running agents. Steps, each one CLI process:

1. ``plan`` (nothing recorded yet); 2. ``apply`` (S + A creates);
3. ``plan --detailed-exitcode`` (no changes); 4. new instructions for A/10 agents and a new
value for every key: ``apply`` (A/10 merge patches, S key updates); 5. ``plan`` again.

Printed per step: wall time and the Platform calls the sandbox logged, beside the bound
**calls = changes + list pages** (a refresh lists each kind, 200 per page; a create, update or
delete is one call; nothing is read one by one unless it drifted).

Usage: python bench/platform_kinds.py [--sets 50] [--agents 500] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

import benchlib as b

sys.path.insert(0, str(b.ROOT))

from reconciler.sandbox.platform.rules import OPERATIONS

PAGE = 200


def write(directory: Path, sets: int, agents: int, variant: int) -> None:
    (directory / "agents.d").mkdir(parents=True, exist_ok=True)
    docs = []
    for s in range(sets):
        docs.append(f"kind: SecretSet\nname: set_{s}\nkeys:\n  key: ${{SET_KEY_{s}}}\n")
    for i in range(agents):
        words = "briefly" if variant == 0 or i % 10 else "in one sentence"
        docs.append(
            f"kind: SavedAgent\nname: agent-{i}\nspec:\n"
            f"  instructions: You are agent {i}. Answer {words}.\n"
            f"  llm:\n    vendor: openai\n"
            f"    credential: {{mode: byok, fields: {{api_key: $secrets.set_{i % sets}.key}}}}\n"
        )
    (directory / "agents.d" / "platform.yaml").write_text("---\n".join(docs), encoding="utf-8")


def calls(sandbox: b.ServedSandbox) -> collections.Counter[str]:
    found = collections.Counter(e["route"] for e in sandbox.requests() if e["route"] in OPERATIONS)
    sandbox.control("DELETE", "requests")
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", type=int, default=50)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    sets, agents = args.sets, args.agents
    pages = b.ceil_div(sets, PAGE) + b.ceil_div(agents, PAGE)
    changed = agents // 10
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with b.ServedSandbox(root / "sandbox.db", latency_ms=args.latency_ms, pcu_limit=20) as sb:
            project = root / "project"
            project.mkdir()
            settings = b.settings_text(f"{sb.url}") + f"platform: {sb.url}\n"
            (project / "reconciler.yaml").write_text(settings, encoding="utf-8")
            write(project, sets, agents, 0)
            env = b.bench_env(**{f"SET_KEY_{s}": f"bench-key-{s}-a" for s in range(sets)})
            cli = [*b.RECONCILER, "-C", str(project)]
            steps = [
                ("plan (nothing recorded)", ["plan"], 0, 0),
                ("apply (creates)", ["apply", "--auto-approve"], sets + agents, 0),
                ("plan (no changes)", ["plan", "--detailed-exitcode"], 0, pages),
            ]
            for label, argv, changes, listed in steps:
                run = b.run_child([*cli, *argv], cwd=project, env=env)
                seen = calls(sb)
                total = sum(seen.values())
                bound = changes + listed
                print(f"{label}: {run.wall:.2f} s, {total} calls {dict(seen)}")
                ok &= b.verdict(f"{label}: Platform calls", total, bound, f"{total}")
            write(project, sets, agents, 1)
            env.update({f"SET_KEY_{s}": f"bench-key-{s}-b" for s in range(sets)})
            run = b.run_child([*cli, "apply", "--auto-approve"], cwd=project, env=env)
            seen = calls(sb)
            total = sum(seen.values())
            bound = changed + sets + pages
            print(f"apply ({changed} patches, {sets} keys): {run.wall:.2f} s, {total} calls "
                  f"{dict(seen)}")  # fmt: skip
            ok &= b.verdict("apply (changes): Platform calls", total, bound, f"{total}")
            run = b.run_child([*cli, "plan", "--detailed-exitcode"], cwd=project, env=env)
            seen = calls(sb)
            total = sum(seen.values())
            print(f"plan (no changes): {run.wall:.2f} s, {total} calls {dict(seen)}")
            ok &= b.verdict("plan after: Platform calls", total, pages, f"{total}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
