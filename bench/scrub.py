"""Scrubbing engine error text with thousands of known secrets.

An engine client scrubs every error text it quotes of every secret it knows (each agent's keys,
each value interpolated into a sensitive field, the credentials) in every encoding
(``reconciler.models.masking``). A project of N agents with two distinct secrets each knows 2N
secrets; this script times, for each N:

- the first scrub (the forms of every secret computed and indexed, once per client);
- a later scrub of a 300-character error that quotes one secret percent-encoded (median);
- a scrub of a 100 KB gateway page (median).

Bound: a later 300-character scrub <= 50 ms at N = 4,000 (an apply that fails for every agent
scrubs one text per agent).

Usage: python bench/scrub.py [--n 1000,4000] [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import time

from reconciler.engine.scrubbing import Scrubber

BOUND_MS = 50.0
BOUND_N = 4_000


def secrets(n: int) -> list[str]:
    keys = [f"sk-agent-{i:05d}-secret-value-abcdef" for i in range(n)]
    urls = [f"https://llm.example/v1?key=k{i:05d}zzzz" for i in range(n)]
    return keys + urls


def timed(action: object, runs: int) -> float:
    """Median milliseconds of ``action()`` over ``runs`` runs."""
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        walls.append((time.perf_counter() - start) * 1000)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1000,4000")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    quoted = "https%3A%2F%2Fllm.example%2Fv1%3Fkey%3Dk00042zzzz"
    short = ("invalid request body: " + quoted + " rejected. ") * 4
    page = "<html>" + "x" * 100_000 + quoted + "</html>"
    for n in (int(part) for part in args.n.split(",")):
        scrubber = Scrubber()
        scrubber.add(secrets(n))
        start = time.perf_counter()
        first = scrubber.scrub(short)
        first_ms = (time.perf_counter() - start) * 1000
        assert quoted not in first, "the quoted secret was not scrubbed"
        later = timed(lambda s=scrubber: s.scrub(short), args.runs)
        large = timed(lambda s=scrubber: s.scrub(page), max(1, args.runs // 3))
        bound = f"  (bound <= {BOUND_MS:g} ms)" if n == BOUND_N else ""
        print(
            f"N = {n:,} agents ({2 * n:,} secrets): first scrub {first_ms:.0f} ms; "
            f"300-character error {later:.1f} ms{bound}; 100 KB page {large:.0f} ms"
        )


if __name__ == "__main__":
    main()
