"""AccessToken2 minting with the official SDK's builders (``agora_agent.agentkit.token``).

Two kinds of token are minted here:

* the **agent token** sent as ``properties.token`` at join (and through ``update`` to renew it):
  ``generate_rtc_token`` for the agent's channel and uid, or ``generate_convo_ai_token`` (RTC +
  RTM) when the agent has ``advanced_features.enable_rtm``;
* the **REST token** of ``auth: token`` (``Authorization: agora token=...``):
  ``generate_convo_ai_token`` for channel ``"stop"`` and uid 0, exactly as the SDK's
  ``Agora.stop_agent`` builds it (docs/engine-api.md, "Tokens").

The SDK's builders take integer uids only (uid 0 means any uid). String uids
(``enable_string_uid``) are refused with a :class:`~reconciler.errors.SettingsError` that says
to give a literal token instead. Error messages name lengths and uids, never a credential.

Importing ``agora_agent`` emits pydantic deprecation warnings from the SDK's own models; the
import is done lazily with those warnings silenced, so a caller that turns warnings into errors
(as the test suite does) is not broken by a third-party module.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import warnings
from pathlib import Path
from types import ModuleType

from reconciler.errors import SettingsError

MAX_TOKEN_TTL_S = 86400
"""The SDK's (and Agora's) maximum token lifetime: 24 hours."""
CREDENTIAL_LENGTH = 32
"""Length Agora requires of both the App ID and the App Certificate."""
REST_TOKEN_CHANNEL = "stop"
"""Channel the SDK's ``stop_agent`` mints its REST token for; the gateway checks no channel."""
MAX_UID = 2**32 - 1

_UID_RE = re.compile(r"[0-9]{1,10}")
_sdk_module: ModuleType | None = None


def _sdk_token() -> ModuleType:
    """The SDK's token module, imported once with its import-time warnings silenced.

    ``agora_agent.agentkit.token`` needs only the standard library, but importing it the usual
    way runs ``agora_agent/__init__.py`` and ``agentkit/__init__.py`` first, which load the
    whole SDK client (0.4 s, on the way to an apply's first engine call). So the SDK's own file
    is loaded on its own, as a private module; if that cannot be done, the usual import.
    """
    global _sdk_module
    if _sdk_module is not None:
        return _sdk_module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = _load_sdk_file()
        if module is None:
            import agora_agent.agentkit.token as sdk

            module = sdk
    _settle_optional_builder()
    _sdk_module = module
    return module


_OPTIONAL_BUILDER = "agora_token_builder"
"""The optional package the SDK's builders try to import on every call, using it if present."""


def _settle_optional_builder() -> None:
    """Let the SDK's per-call ``import agora_token_builder`` fail at once when it is absent.

    Each of the SDK's builders tries that import on every call and builds the token itself on
    ``ImportError``; an import that fails is not cached, so each call searched the whole import
    path again (about 0.3 ms, most of the cost of a token). When the package is not installed,
    ``None`` in ``sys.modules`` (the import system's own mark for "no such module") makes the
    import fail without a search; the SDK then builds the same token as before. An installed
    package is left alone (the SDK uses it, as it would anyway).
    """
    if _OPTIONAL_BUILDER in sys.modules:
        return
    try:
        missing = importlib.util.find_spec(_OPTIONAL_BUILDER) is None
    except (ImportError, ValueError):
        return
    if missing:
        sys.modules[_OPTIONAL_BUILDER] = None  # type: ignore[assignment]


def _load_sdk_file() -> ModuleType | None:
    try:
        package = importlib.util.find_spec("agora_agent")  # finds, does not run, the package
        if package is None or not package.submodule_search_locations:
            return None
        for location in package.submodule_search_locations:
            path = Path(location) / "agentkit" / "token.py"
            if path.is_file():
                spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, path)
                if spec is None or spec.loader is None:
                    return None
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                if hasattr(module, "generate_convo_ai_token") and hasattr(
                    module, "generate_rtc_token"
                ):
                    return module
        return None
    except Exception:  # any surprise: the usual import decides
        return None


_PRIVATE_NAME = "reconciler.engine._agora_agent_token"


def parse_uid(uid: str) -> int:
    """An RTC uid given as a decimal string (``"0"`` = any uid) as the int the SDK wants.

    Raises :class:`SettingsError` for a string uid, which the SDK's builders cannot sign.
    """
    text = uid.strip()
    if not _UID_RE.fullmatch(text) or int(text) > MAX_UID:
        raise SettingsError(
            f"cannot mint a token for uid {uid!r}: token: auto supports numeric RTC uids "
            f"(0 to {MAX_UID}) only, because the official SDK's token builders do not support "
            "string uids (enable_string_uid); give a literal token instead"
        )
    return int(text)


def check_credentials(app_id: str, app_certificate: str) -> None:
    """Refuse an App ID or App Certificate that is not 32 characters (naming lengths only)."""
    wrong = [
        f"{name} is {len(value)} characters"
        for name, value in (("app_id", app_id), ("app_certificate", app_certificate))
        if len(value) != CREDENTIAL_LENGTH
    ]
    if wrong:
        raise SettingsError(
            f"cannot mint an Agora token: app_id and app_certificate must each be exactly "
            f"{CREDENTIAL_LENGTH} characters ({' and '.join(wrong)}); "
            "check for stray whitespace or a truncated value"
        )


def _check_ttl(ttl_s: float) -> int:
    if ttl_s <= 0:
        raise SettingsError(f"token lifetime must be positive, got {ttl_s} s")
    return min(int(ttl_s), MAX_TOKEN_TTL_S)


def mint_agent_token(
    app_id: str,
    app_certificate: str,
    channel: str,
    uid: str,
    ttl_s: float,
    now: float,
    rtm: bool,
) -> tuple[str, float]:
    """Mint the agent's join token; returns ``(token, expires_at)``.

    ``uid`` is the agent's ``agent_rtc_uid`` (``"0"``: any uid). ``rtm`` selects the combined
    RTC + RTM token (for ``advanced_features.enable_rtm``). ``ttl_s`` is capped at 24 h.
    ``expires_at`` is ``now + ttl`` on the caller's clock; the SDK stamps the token with the
    wall clock, so callers should pass ``time.time()`` (or a clock that does not run ahead of it).
    """
    check_credentials(app_id, app_certificate)
    numeric_uid = parse_uid(uid)
    ttl = _check_ttl(ttl_s)
    if not channel:
        raise SettingsError("cannot mint a token for an empty channel name")
    sdk = _sdk_token()
    if rtm:
        token = sdk.generate_convo_ai_token(
            app_id=app_id,
            app_certificate=app_certificate,
            channel_name=channel,
            uid=numeric_uid,
            token_expire=ttl,
        )
    else:
        token = sdk.generate_rtc_token(
            app_id=app_id,
            app_certificate=app_certificate,
            channel=channel,
            uid=numeric_uid,
            expiry_seconds=ttl,
        )
    return str(token), now + ttl


def mint_rest_token(
    app_id: str, app_certificate: str, ttl_s: float, now: float
) -> tuple[str, float]:
    """Mint a token for the REST ``Authorization: agora token=`` header; ``(token, expires_at)``.

    Built as the SDK's ``stop_agent`` builds it: ``generate_convo_ai_token`` for channel
    ``"stop"`` and uid 0.
    """
    check_credentials(app_id, app_certificate)
    ttl = _check_ttl(ttl_s)
    token = _sdk_token().generate_convo_ai_token(
        app_id=app_id,
        app_certificate=app_certificate,
        channel_name=REST_TOKEN_CHANNEL,
        uid=0,
        token_expire=ttl,
    )
    return str(token), now + ttl
