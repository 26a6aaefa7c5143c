"""reconciler: infrastructure-as-code for Agora Conversational AI agents.

Manifests in ``agents.d/`` declare the agents that should run; ``reconciler plan`` shows what
would change on the engine and ``reconciler apply`` makes it so.
"""

__version__ = "0.1.0"
