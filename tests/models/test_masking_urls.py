"""How a URL that may carry credentials is shown: `mask_url_credentials`."""

from __future__ import annotations

import pytest

from reconciler.models.masking import mask_url_credentials

CASES = {
    "https://hook.example/ncs": "https://hook.example/ncs",
    "https://u:p%2Fw@hook.example:8443/ncs": "https://u:***@hook.example:8443/ncs",
    "https://u@hook.example/ncs": "https://u@hook.example/ncs",
    "http://h/ncs?token=abc&a=1&api_key=k&Signature=s": "http://h/ncs?token=***&a=1&api_key=***&Signature=***",
    "http://h/ncs?max_tokens=5&key_id=7": "http://h/ncs?max_tokens=5&key_id=7",
    "http://h/ncs#access_token=abc": "http://h/ncs#***",
    "http://[::1/ncs?token=abc": "***",
}


@pytest.mark.parametrize(("url", "shown"), CASES.items())
def test_a_url_is_shown_without_its_password_or_secret_parameters(url: str, shown: str) -> None:
    assert mask_url_credentials(url) == shown
