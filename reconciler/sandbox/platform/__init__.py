"""The Conversational AI Platform REST API (Preview), served by the sandbox beside the v2 engine:
secret sets, saved agents, phone numbers, sessions and campaigns under
``/conversational-ai/v1/projects/{appid}`` (docs/platform-api.md).

Modules: ``rules`` (every documented rule and every UNCONFIRMED choice), ``routes`` (HTTP),
one module per resource and the shape they share (``collection``), ``store`` (SQLite tables on
the sandbox's store), ``listing``
(pagination), ``preconditions`` (ETag/If-Match), ``mergepatch`` (RFC 7396), ``control``
(``/_sandbox/platform/...``). Kept free of imports here so that ``faults`` can read ``rules``.
"""
