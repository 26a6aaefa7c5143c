"""One rule for engine and Platform URLs: what ``validate`` accepts, the client resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.engine.endpoints import normalize_base_url
from reconciler.engine.platform.endpoints import resolve_platform
from reconciler.errors import SettingsError, ValidationError
from reconciler.manifests import load_settings
from reconciler.manifests.settings import engine_problem, platform_problem
from reconciler.models.serviceurl import service_url_problem

USABLE = [
    "https://api.example.com",
    "https://api.example.com:8443/base/",
    "HTTPS://API.EXAMPLE.COM",
    "http://127.0.0.1:8787",
    "http://localhost:8787",
    "http://[::1]:8787",
]
REFUSED = [
    "https://user:hunter2@api.example.com",
    "https://user@api.example.com",
    "https://api.example.com/?key=x",
    "https://api.example.com/#frag",
    "https://api.example.com:99999",
    "https://[::1",
    "https://",
    "http://10.0.0.1",
    "http://engine.example",
    "ftp://api.example.com",
    "api.example.com",
]


@pytest.mark.parametrize("url", USABLE)
def test_validate_and_the_clients_accept_the_same_urls(url: str) -> None:
    assert engine_problem(url) is None
    assert platform_problem(url) is None
    assert normalize_base_url(url).startswith(("https://", "http://"))
    assert resolve_platform(url).endswith("/conversational-ai")


@pytest.mark.parametrize("url", REFUSED)
def test_validate_refuses_every_url_the_clients_refuse(url: str) -> None:
    assert engine_problem(url) is not None
    assert platform_problem(url) is not None
    with pytest.raises(SettingsError):
        normalize_base_url(url)
    with pytest.raises(SettingsError):
        resolve_platform(url)


@pytest.mark.parametrize("url", REFUSED)
def test_no_refusal_echoes_a_password(url: str) -> None:
    reason = service_url_problem("engine", url, "engine must be an https:// URL")
    assert reason is not None and "hunter2" not in reason


def test_a_url_with_credentials_is_refused_at_its_line_with_the_password_hidden(
    tmp_path: Path,
) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "auth: basic\nengine: https://ops:hunter2@api.example.com\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError) as caught:
        load_settings(tmp_path, None, {})
    (problem,) = caught.value.problems
    assert str(problem).startswith("reconciler.yaml:2: engine: a URL must not contain credentials")
    assert problem.source == "engine: https://<hidden>@api.example.com"
