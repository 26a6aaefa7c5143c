"""Layer 1: recorded state on the local filesystem and the lock that serialises its writers.

:class:`LocalStateStore` reads and atomically writes ``state/agents.json``; :class:`StateLock`
is the OS-level lock on ``state/agents.json.lock`` held by every command that may write;
:func:`force_unlock` clears a lock whose holder is gone.
"""

from reconciler.state.lock import LockInfo, StateLock, force_unlock, lock_path_for
from reconciler.state.store import LocalStateStore, dump_state, new_state

__all__ = [
    "LocalStateStore",
    "LockInfo",
    "StateLock",
    "dump_state",
    "force_unlock",
    "lock_path_for",
    "new_state",
]
