"""Running the project's coroutines from a (synchronous) click command, and SIGTERM.

:func:`run_async` is ``asyncio.run`` for a coroutine whose result may be large (a plan, a
state document). On Python 3.11, ``asyncio.run`` asks for the SIGINT handler it installed
(``signal.getsignal``), which formats that handler, and with it the main task and the task's
*result*, in an error message it then discards: with 5,000 agents that was 0.3 s and 100 MB of
text per command. Here the task asyncio sees returns ``None``; the result travels beside it.

SIGTERM outside the event loop raises :class:`Terminated` from the signal handler (installed by
:func:`install_sigterm`), so that ``with`` blocks run and the state lock is released. Inside
:func:`run_async` an exception raised at an arbitrary point could tear asyncio's own machinery
apart (a loop left "running" printed a traceback when it was collected), so there the handler
only notes SIGTERM and has the loop cancel the main task, as asyncio does for Ctrl-C;
:class:`Terminated` is raised once the loop is closed. A coroutine may install
its own handler (apply finishes the calls in flight); the process-wide handler is restored
afterwards either way.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Terminated(BaseException):
    """SIGTERM arrived outside apply (apply handles it itself, finishing the calls in flight)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def install_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` (main thread only)."""
    signal.signal(signal.SIGTERM, _terminate)


def restore_sigint() -> None:
    """Give Ctrl-C back to Python's handler (:class:`KeyboardInterrupt`), if the entry point
    (:mod:`reconciler.__main__`) installed its start-up handler, which exits 130 at once."""
    if threading.current_thread() is not threading.main_thread():
        return
    if getattr(signal.getsignal(signal.SIGINT), "reconciler_startup", False):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, returning its result (or raising its exception).

    With the CLI's SIGTERM handler installed (:func:`install_sigterm`), SIGTERM while the
    coroutine runs cancels it, and SIGTERM while asyncio starts or shuts down is only noted;
    either way :class:`Terminated` is raised once the loop is closed. Ctrl-C (SIGINT) is handled
    the same way and raises :class:`KeyboardInterrupt` once the loop is closed: raised at an
    arbitrary bytecode, it could land inside asyncio while it builds or closes its loop, and a
    half-built loop printed a traceback when it was collected.
    """
    import asyncio

    box: list[T] = []
    noted: set[int] = set()
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[Any] | None = None
    main_thread = threading.current_thread() is threading.main_thread()
    managed = {
        sig: handler
        for sig, handler, ours in (
            (signal.SIGTERM, _terminate, main_thread and signal.getsignal(signal.SIGTERM)),
            (
                signal.SIGINT,
                signal.default_int_handler,
                main_thread and signal.getsignal(signal.SIGINT),
            ),
        )
        if ours is handler
    }

    def on_signal(signum: int, frame: object) -> None:
        # Runs between two bytecodes of the main thread, possibly inside asyncio: it only notes
        # the signal and asks the loop (thread-safely) to cancel the main task.
        noted.add(signum)
        if loop is not None and task is not None and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    def install() -> None:
        for sig in managed:
            signal.signal(sig, on_signal)

    async def main() -> None:
        nonlocal loop, task
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            box.append(await coro)
        finally:
            task = None
            install()  # a coroutine with handlers of its own (apply) has removed them

    def interruption() -> BaseException | None:
        if signal.SIGTERM in noted:
            return Terminated()
        if signal.SIGINT in noted:
            return KeyboardInterrupt()
        return None

    install()
    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        raised = interruption()
        if raised is not None:
            raise raised from None
        raise
    finally:
        for sig, handler in managed.items():
            signal.signal(sig, handler)
    raised = interruption()
    if raised is not None:  # the coroutine finished (or swallowed the cancellation) meanwhile
        raise raised
    return box[0]
