"""A faithful local emulator of Agora's Conversational AI Engine REST API v2.

An island: it imports nothing from the rest of `reconciler`, so it tests the wire contract
honestly. `create_app(SandboxConfig(...))` gives an ASGI app; `serve(config, host, port)` runs it
with uvicorn; `reconciler sandbox serve` starts a server.
"""

from .app import create_app
from .config import SandboxConfig
from .server import serve

__all__ = ["SandboxConfig", "create_app", "serve"]
