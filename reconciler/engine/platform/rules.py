"""What the Platform client relies on, in one place: the error reasons it tells apart, the
list limits and paths. Behaviour the Platform's documentation does not confirm is marked
``UNCONFIRMED`` (docs/platform-api.md), as in the sandbox's own rules module, so that both are
corrected together when the real behaviour is known.
"""

from __future__ import annotations

API_PATH = "/conversational-ai"
"""Path of the Platform API under its host; the client appends ``v1/projects/{appid}/...``."""
VERSION_PATH = "v1/projects"
PREVIEW_BASE_URL = "https://preview.ai.agora.io" + API_PATH
"""The Platform (Preview) (documented)."""
SANDBOX_BASE_URL = "http://sandbox" + API_PATH
"""Base URL to use with the in-process sandbox's ASGI transport (the host is never resolved)."""

IN_USE_REASONS = frozenset({"SecretSetInUse", "AgentInUse", "NumberInUse"})
"""A delete (or a key removal) refused because something references the resource.
``SecretSetInUse`` is documented; the others are UNCONFIRMED names."""
EXISTS_REASONS = frozenset({"SecretSetAlreadyExists", "NumberAlreadyExists"})
"""A create refused because the name or number is taken (``NumberAlreadyExists`` UNCONFIRMED)."""
PRECONDITION_FAILED = "PreconditionFailed"
"""412: the ``If-Match`` ETag is stale (documented)."""
IDEMPOTENCY_CONFLICT = "IdempotencyKeyConflict"
"""409: a session was already started with this ``Idempotency-Key`` (documented)."""
NOT_FOUND_REASON = "NotFound"
"""UNCONFIRMED: the reason of a 404 for a resource that does not exist. A 404 with another
reason (or none: a gateway's "no route") is an error, not an absent resource."""

PAGE_SIZE = {"secrets": 200, "agents": 200, "numbers": 100}
"""The largest page each list allows (documented); the client asks for full pages."""
MAX_PAGES = 10_000
"""Guard against a list whose cursors never end."""
