"""The local state backend: one JSON file, its write log and its OS lock.

:mod:`~reconciler.state.local.store` reads and atomically writes ``state/agents.json``;
:mod:`~reconciler.state.local.wal` is the write log (``agents.json.wal``) an apply of a large
state appends to; :mod:`~reconciler.state.local.lock` is the ``flock`` on ``agents.json.lock``
and ``force-unlock``; :mod:`~reconciler.state.local.backend` puts the three together for
:func:`~reconciler.state.backend.open_backend`.
"""
