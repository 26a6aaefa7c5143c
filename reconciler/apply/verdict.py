"""The verdict on an apply: how its result becomes an exit code and an error.

One verdict for every command that applies (``apply``, ``destroy``, ``watch``), in this order:

1. an action failed: an :class:`~reconciler.errors.ApplyError` listing each failure;
2. the run stopped early (``aborted``: the state could not be written, an internal error): an
   :class:`~reconciler.errors.ApplyError` saying why;
3. the run was interrupted (SIGINT, SIGTERM): exit 130, no error (the calls in flight finished
   and were recorded);
4. the state, as the apply left it, still journals interrupted starts that could not be
   settled: an :class:`~reconciler.errors.ApplyError` naming them (nothing more is started in
   their channels until they are);
5. else success.

A plan without changes is judged the same way, on an empty :class:`ApplyResult` and the state
the plan settled: only the last check can then fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.apply.events import ApplyResult
from reconciler.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, ApplyError
from reconciler.models import StateDoc

__all__ = ["ApplyVerdict", "apply_verdict", "failure_lines", "unsettled_starts"]


@dataclass(frozen=True)
class ApplyVerdict:
    """The exit code of an apply, and the error to report (None on success or interruption)."""

    exit_code: int
    error: ApplyError | None = None

    @property
    def one_line(self) -> str:
        """The error's message on one line (for a log line), or ``""``."""
        if self.error is None:
            return ""
        head, *rest = str(self.error).split("\n")
        return " ".join([head, "; ".join(line.strip().removeprefix("- ") for line in rest)]).strip()


def apply_verdict(result: ApplyResult, state: StateDoc) -> ApplyVerdict:
    """The verdict on ``result``, with ``state`` the state the apply left (see the module
    docstring)."""
    if result.failed:
        message = "\n".join(["these actions failed:", *failure_lines(result)])
        return ApplyVerdict(EXIT_ERROR, ApplyError(message))
    if result.aborted:
        return ApplyVerdict(EXIT_ERROR, ApplyError(result.aborted))
    if result.interrupted:
        return ApplyVerdict(EXIT_INTERRUPTED)
    names = unsettled_starts(state)
    if names:
        return ApplyVerdict(
            EXIT_ERROR,
            ApplyError(
                f"interrupted start(s) of {', '.join(names)} could not be settled (see the notes "
                "above); nothing more is started in their channels until they are"
            ),
        )
    return ApplyVerdict(EXIT_OK)


def unsettled_starts(state: StateDoc) -> list[str]:
    """The names whose start the journal of ``state`` still holds, unsettled."""
    return sorted({entry.name for entry in state.journal if entry.op == "join"})


def failure_lines(result: ApplyResult) -> list[str]:
    """One line per failed action: ``  - <name> <action> (<reason>): <detail>``."""
    lines = []
    for r in result.failed:
        reason = f" ({r.reason})" if r.reason else ""
        lines.append(f"  - {r.name} {r.action}{reason}: {r.detail}")
    return lines
