"""Running the project's coroutines from a (synchronous) click command.

:func:`run_async` is ``asyncio.run`` for a coroutine whose result may be large (a plan, a
state document). On Python 3.11, ``asyncio.run`` asks for the SIGINT handler it installed
(``signal.getsignal``), which formats that handler, and with it the main task and the task's
*result*, in an error message it then discards: with 5,000 agents that was 0.3 s and 100 MB of
text per command. Here the task asyncio sees returns ``None``; the result travels beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, returning its result (or raising its exception)."""
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
