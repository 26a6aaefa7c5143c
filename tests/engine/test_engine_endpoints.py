"""Endpoint resolution: URLs as given, loopback-only http, regional fail-over order."""

from __future__ import annotations

import pytest

from reconciler.engine.endpoints import (
    SANDBOX_BASE_URL,
    region_base_urls,
    resolve_endpoints,
)
from reconciler.errors import SettingsError


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        ("https://api.agora.io", "https://api.agora.io/api/conversational-ai-agent"),
        ("https://api.agora.io/", "https://api.agora.io/api/conversational-ai-agent"),
        (
            "https://api.agora.io/api/conversational-ai-agent/",
            "https://api.agora.io/api/conversational-ai-agent",
        ),
        (
            "https://api.agora.io/cn/api/conversational-ai-agent",
            "https://api.agora.io/cn/api/conversational-ai-agent",
        ),
        (
            "https://gw.example:8443/base",
            "https://gw.example:8443/base/api/conversational-ai-agent",
        ),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787/api/conversational-ai-agent"),
        ("http://127.9.9.9", "http://127.9.9.9/api/conversational-ai-agent"),
        ("http://localhost:9000", "http://localhost:9000/api/conversational-ai-agent"),
        ("http://[::1]:9000", "http://[::1]:9000/api/conversational-ai-agent"),
        ("  HTTP://LOCALHOST:1  ", "http://localhost:1/api/conversational-ai-agent"),
    ],
)
def test_urls_resolve_to_one_base_url(engine: str, expected: str) -> None:
    assert resolve_endpoints(engine) == [expected]


@pytest.mark.parametrize(
    "engine",
    [
        "http://10.0.0.1",
        "http://example.com",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://[::2]",
        "http://0.0.0.0:8787",
    ],
)
def test_plain_http_off_loopback_is_refused(engine: str) -> None:
    with pytest.raises(SettingsError, match="loopback"):
        resolve_endpoints(engine)


@pytest.mark.parametrize(
    ("engine", "match"),
    [
        ("ftp://host", "https:// URL"),
        ("https://host?x=1", "query"),
        ("https://host#frag", "query"),
        ("https://:8080", "no host"),
        ("https://host:notaport", "not a valid URL"),
        ("mars", "neither"),
        ("", "empty"),
        ("sandbox", "in-process"),
    ],
)
def test_bad_engines_are_settings_errors(engine: str, match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        resolve_endpoints(engine)


def test_credentials_in_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(SettingsError) as info:
        resolve_endpoints("https://alice:hunter2-secret@api.agora.io")
    assert "hunter2-secret" not in str(info.value)
    assert "alice" not in str(info.value)


def test_global_region_order_rotates_prefixes_within_the_preferred_domain() -> None:
    assert resolve_endpoints("us") == [
        "https://api-us-west-1.agora.io/api/conversational-ai-agent",
        "https://api-us-east-1.agora.io/api/conversational-ai-agent",
        "https://api-us-west-1.sd-rtn.com/api/conversational-ai-agent",
        "https://api-us-east-1.sd-rtn.com/api/conversational-ai-agent",
    ]
    assert region_base_urls("EU")[:2] == [
        "https://api-eu-west-1.agora.io/api/conversational-ai-agent",
        "https://api-eu-central-1.agora.io/api/conversational-ai-agent",
    ]
    assert region_base_urls("ap")[0] == (
        "https://api-ap-southeast-1.agora.io/api/conversational-ai-agent"
    )


def test_cn_region_prefers_the_mainland_domain_and_cn_path() -> None:
    assert resolve_endpoints("cn") == [
        "https://api-cn-east-1.sd-rtn.com/cn/api/conversational-ai-agent",
        "https://api-cn-north-1.sd-rtn.com/cn/api/conversational-ai-agent",
        "https://api-cn-east-1.agora.io/cn/api/conversational-ai-agent",
        "https://api-cn-north-1.agora.io/cn/api/conversational-ai-agent",
    ]


def test_the_sandbox_base_url_carries_the_api_path() -> None:
    assert SANDBOX_BASE_URL.endswith("/api/conversational-ai-agent")
