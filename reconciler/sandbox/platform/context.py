"""What every Platform operation works with: the request (``Req``), its answer (``Answer``) and
the Platform's state on top of the sandbox (``Platform``: store, clock, ids)."""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from .. import wire
from ..core import Sandbox
from .errors import invalid
from .store import PlatformStore

_SESSION_ALPHABET = string.ascii_lowercase + string.digits


class Platform:
    """The sandbox's Platform API state: resources in the shared store, seeded ids."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.store = PlatformStore(sandbox.store)
        self._rng = self._new_rng()

    def _new_rng(self) -> random.Random:
        seed = self.sandbox.config.seed
        return random.Random(f"platform-ids:{seed}") if seed is not None else random.SystemRandom()

    def reset(self) -> None:
        """Restart the id sequence (the store is emptied by the sandbox's reset)."""
        self._rng = self._new_rng()

    def now(self) -> float:
        """Sandbox time."""
        return self.sandbox.now()

    def new_uuid(self) -> str:
        """A fresh UUID (agents, numbers, campaigns)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def new_session_id(self) -> str:
        """A fresh session id: 32 lowercase letters and digits."""
        return "".join(self._rng.choice(_SESSION_ALPHABET) for _ in range(32))


@dataclass(frozen=True)
class Req:
    """One authenticated Platform request."""

    platform: Platform
    app_id: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    operation: str

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object (400 otherwise)."""
        if not self.raw.strip():
            raise invalid("", "the request needs a JSON object body")
        try:
            value = wire.loads(self.raw)
        except wire.NotJson:
            raise invalid("", "the body is not valid JSON") from None
        if not isinstance(value, dict):
            raise invalid("", "the body must be a JSON object")
        return value

    def header(self, name: str) -> str | None:
        """A request header (lower-case name)."""
        return self.headers.get(name)


@dataclass
class Answer:
    """A JSON answer with its status and extra headers (``ETag``)."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
