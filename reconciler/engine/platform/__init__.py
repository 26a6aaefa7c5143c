"""The Conversational AI Platform's REST client (docs/platform-api.md), on the engine client's
HTTP layers: ``client`` (:class:`~reconciler.engine.platform.client.PlatformClient`),
``endpoints`` (where the Platform is), ``rules`` (the reasons and limits the client relies on,
UNCONFIRMED ones marked), ``errors`` (its exceptions), ``wire`` (its answers).

Nothing is imported here, so that :mod:`reconciler.engine.errors_map` can import ``errors``
without importing the client.
"""
