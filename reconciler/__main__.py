"""The entry point of the ``reconciler`` command and of ``python -m reconciler``.

Ctrl-C while the command starts must end it like Ctrl-C at any later moment: exit 130 and
``Interrupted.``. Python turns SIGINT into :class:`KeyboardInterrupt`, and a
:class:`KeyboardInterrupt` that escapes (raised while the CLI's modules are still being imported,
before :func:`reconciler.cli.main` can catch it) makes Python end the process *by* SIGINT, which
a caller sees as "killed by signal 2". So :func:`main` first installs a start-up handler that
ends the process at once with 130 (nothing is held or half-written while modules load), then
imports the CLI, whose :func:`~reconciler.cli.main` gives SIGINT back to Python's handler inside
the ``try`` that turns it into 130. This module imports nothing that the interpreter has not
loaded already (``_signal`` and ``os`` are loaded before any code of ours runs), so no import
comes before the handler.

What no Python code can cover: a SIGINT before the interpreter has installed its own handler
(its first milliseconds), and, for the console script, while ``reconciler`` and this module are
themselves being loaded (a few small files, no third-party import).
"""

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (not loaded yet)
if TYPE_CHECKING:  # _signal has no stubs; signal re-exports the same functions
    import signal as _sig
else:
    try:  # the interpreter loads _signal before running any code: importing it runs nothing
        import _signal as _sig
    except ImportError:  # an interpreter without the _signal module
        import signal as _sig

EXIT_INTERRUPTED = 130


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C before the CLI catches it: say so and exit 130 at once (nothing to clean up)."""
    os.write(2, b"Interrupted.\n")
    os._exit(EXIT_INTERRUPTED)


_interrupted_while_starting.reconciler_startup = True  # type: ignore[attr-defined]
"""Marks the start-up handler, which :func:`reconciler.cli.main` replaces by Python's own."""


def main() -> None:
    """Run the CLI (:func:`reconciler.cli.main`), exiting 130 on a Ctrl-C during start-up."""
    if _sig.getsignal(_sig.SIGINT) is _sig.default_int_handler:  # not ignored (``nohup``, ``&``)
        _sig.signal(_sig.SIGINT, _interrupted_while_starting)
    from reconciler.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
