"""Layer 1: recorded state and the lock that serialises its writers.

:class:`LocalStateStore` reads and atomically writes ``state/agents.json``; :class:`StateLock`
is the OS-level lock on ``state/agents.json.lock`` held by every command that may write;
:func:`force_unlock` clears a lock whose holder is gone. :func:`open_backend` picks the backend
the settings name: that local file, or a PostgreSQL database (``reconciler.state.pgbackend``,
imported only when used).
"""

from reconciler.state.backend import StateBackend, StateLocker, StateStore, open_backend
from reconciler.state.lock import LockInfo, StateLock, force_unlock, lock_path_for
from reconciler.state.store import LocalStateStore, dump_state, new_state

__all__ = [
    "LocalStateStore",
    "LockInfo",
    "StateBackend",
    "StateLock",
    "StateLocker",
    "StateStore",
    "dump_state",
    "force_unlock",
    "lock_path_for",
    "new_state",
    "open_backend",
]
