"""SIGTERM while a command's coroutine runs: the coroutine is cancelled (its ``finally`` blocks
run), :class:`Terminated` is raised once the event loop has shut down cleanly, and the
process-wide handler is back in place."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from reconciler.cli.runner import Terminated, install_sigterm, run_async


@pytest.fixture
def sigterm_handler() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    install_sigterm()
    yield
    signal.signal(signal.SIGTERM, previous)


def _sigterm_soon(delay: float = 0.2) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


@pytest.mark.usefixtures("sigterm_handler")
def test_sigterm_cancels_the_coroutine_and_raises_terminated_after_a_clean_shutdown(
    capfd: pytest.CaptureFixture[str],
) -> None:
    cleaned_up: list[str] = []
    raised: list[type[BaseException]] = []

    async def planning() -> str:
        try:
            await asyncio.sleep(10)
            return "plan"
        except BaseException as exc:
            raised.append(type(exc))
            raise
        finally:
            cleaned_up.append("lock released")

    timer = _sigterm_soon()
    with pytest.raises(Terminated):
        run_async(planning())
    timer.join()
    gc.collect()  # a loop left running would complain here ("Exception ignored in ...")

    assert cleaned_up == ["lock released"]
    # Delivered as a cancellation at an await, never as an exception at an arbitrary bytecode
    # (which could land inside asyncio's own code).
    assert raised == [asyncio.CancelledError]
    assert "Traceback" not in capfd.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    with pytest.raises(Terminated):  # the process-wide handler is back
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)


@pytest.mark.usefixtures("sigterm_handler")
def test_a_coroutine_with_its_own_sigterm_handler_keeps_it_and_the_handler_is_restored() -> None:
    seen: list[str] = []

    async def applying() -> str:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, lambda: (seen.append("graceful"), stop.set()))
        try:
            await asyncio.wait_for(stop.wait(), 10)
            return "finished the calls in flight"
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    timer = _sigterm_soon()
    assert run_async(applying()) == "finished the calls in flight"
    timer.join()
    assert seen == ["graceful"]
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL


def test_without_sigterm_the_result_comes_back() -> None:
    async def plan() -> dict[str, int]:
        await asyncio.sleep(0)
        return {"agents": 3}

    assert run_async(plan()) == {"agents": 3}


def test_an_exception_of_the_coroutine_propagates() -> None:
    async def broken() -> None:
        raise ValueError("bad manifest")

    with pytest.raises(ValueError, match="bad manifest"):
        run_async(broken())


@pytest.mark.usefixtures("sigterm_handler")
def test_a_sigterm_as_the_coroutine_finishes_still_ends_in_terminated() -> None:
    async def quick() -> str:
        os.kill(os.getpid(), signal.SIGTERM)  # handled by the loop once this task is done
        return "plan"

    with pytest.raises(Terminated):
        run_async(quick())


@pytest.mark.usefixtures("sigterm_handler")
def test_inside_the_loop_the_sigterm_handler_only_notes_the_signal() -> None:
    """Regression: the handler raised ``Terminated`` wherever the signal landed, which inside
    asyncio's own teardown left a loop "running" and printed a traceback when collected."""
    returned: list[str] = []

    async def planning() -> None:
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        handler(signal.SIGTERM, None)  # as if the signal landed here: must not raise
        returned.append("handler returned")
        await asyncio.sleep(10)  # cancelled by the loop instead

    with pytest.raises(Terminated):
        run_async(planning())
    assert returned == ["handler returned"]


def test_ctrl_c_while_asyncio_builds_its_loop_is_noted_and_raised_after_a_clean_shutdown(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a SIGINT landing inside the loop's constructor left a half-built loop whose
    collection printed a traceback (seen as a flaky e2e failure of Ctrl-C during apply)."""
    real = asyncio.new_event_loop

    def new_event_loop() -> asyncio.AbstractEventLoop:
        os.kill(os.getpid(), signal.SIGINT)  # delivered here, before the loop exists
        return real()

    monkeypatch.setattr(asyncio.events, "new_event_loop", new_event_loop)
    finished: list[str] = []

    async def planning() -> str:
        finished.append("ran")
        return "plan"

    with pytest.raises(KeyboardInterrupt):
        run_async(planning())
    gc.collect()
    assert "Traceback" not in capfd.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_the_coroutine_runs_cancels_it_at_an_await() -> None:
    raised: list[type[BaseException]] = []

    async def planning() -> str:
        try:
            await asyncio.sleep(10)
            return "plan"
        except BaseException as exc:
            raised.append(type(exc))
            raise

    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        run_async(planning())
    timer.join()
    assert raised == [asyncio.CancelledError]
