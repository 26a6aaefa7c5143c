"""Layer 1: recorded state and the lock that serialises its writers.

:func:`open_backend` picks the backend the settings name (the protocols are in
:mod:`reconciler.state.backend`): the local file (:mod:`reconciler.state.local`:
:class:`LocalStateStore` reads and atomically writes ``state/agents.json``; :class:`StateLock` is
the OS-level lock on ``state/agents.json.lock`` held by every command that may write;
:func:`force_unlock` clears a lock whose holder is gone), or a PostgreSQL database
(:mod:`reconciler.state.postgres`, imported only when used). What both backends share stays at
this level: the state document and its text (:mod:`~reconciler.state.document`), the binding to
an App ID and engine (:mod:`~reconciler.state.binding`), the lock holder
(:mod:`~reconciler.state.holder`), the lock object (:mod:`~reconciler.state.heldlock`), waiting
for a lock (:mod:`~reconciler.state.lockwait`) and the edits of ``state mv|rm|unprotect``
(:mod:`~reconciler.state.edits`).
"""

from reconciler.state.backend import StateBackend, StateLocker, StateStore, open_backend
from reconciler.state.document import dump_state, new_state
from reconciler.state.holder import LockInfo
from reconciler.state.local.lock import StateLock, force_unlock, lock_path_for
from reconciler.state.local.store import LocalStateStore

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
