"""Layer 1: the engine's async REST client, with retries, fail-over, auth and token minting.

Imports only ``reconciler.errors``, ``reconciler.models``, the standard library, httpx and the
official SDK's token builders (``agora_agent``).
"""

from reconciler.engine.adopt import NameSearch, find_by_name, find_conflicting
from reconciler.engine.auth import AuthProvider, BasicAuth, TokenAuth, auth_from_settings
from reconciler.engine.client import ALL_STATES, AgentIdentity, EngineClient, JoinResult
from reconciler.engine.endpoints import (
    SANDBOX_BASE_URL,
    region_base_urls,
    resolve_endpoints,
)
from reconciler.engine.factory import ClientOptions, build_client, build_platform_client
from reconciler.engine.layered import USER_AGENT
from reconciler.engine.platform.client import KeyWrite, PlatformClient, Versioned
from reconciler.engine.refresh import ACTIVE_STATE_CODES, REFRESH_WINDOW_S, refresh, with_channels
from reconciler.engine.retry import RetryEvent, RetryPolicy, is_retryable_status, parse_retry_after
from reconciler.engine.tokens import MAX_TOKEN_TTL_S, mint_agent_token, mint_rest_token

__all__ = [
    "ACTIVE_STATE_CODES",
    "ALL_STATES",
    "MAX_TOKEN_TTL_S",
    "REFRESH_WINDOW_S",
    "SANDBOX_BASE_URL",
    "USER_AGENT",
    "AgentIdentity",
    "AuthProvider",
    "BasicAuth",
    "ClientOptions",
    "EngineClient",
    "JoinResult",
    "KeyWrite",
    "NameSearch",
    "PlatformClient",
    "RetryEvent",
    "RetryPolicy",
    "TokenAuth",
    "Versioned",
    "auth_from_settings",
    "build_client",
    "build_platform_client",
    "find_by_name",
    "find_conflicting",
    "is_retryable_status",
    "mint_agent_token",
    "mint_rest_token",
    "parse_retry_after",
    "refresh",
    "region_base_urls",
    "resolve_endpoints",
    "with_channels",
]
