"""The Conversational AI Platform's REST client (docs/platform-api.md), on the engine client's
HTTP layers: ``client`` (:class:`~reconciler.engine.platform.client.PlatformClient`),
``endpoints`` (where the Platform is), ``rules`` (the reasons and limits the client relies on,
UNCONFIRMED ones marked), ``wire`` (its answers). Its exceptions are in
:mod:`reconciler.errors` (the one root), raised through :mod:`reconciler.engine.errors_map`.

Nothing is imported here, so that :mod:`reconciler.engine.errors_map` can import ``rules``
without importing the client.
"""
