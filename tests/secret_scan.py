"""Finding secrets in what the tool wrote: plain, or inside base64 text at any alignment.

Shared by the end-to-end and reliability suites (each passes its own secrets and the Basic
credential it authenticates with).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping


def b64_forms(secret: str) -> set[str]:
    """Base64 fragments present in any base64 text that holds ``secret`` (any alignment)."""
    raw = secret.encode()
    forms: set[str] = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + raw).decode().rstrip("=")
            # Drop the characters that depend on the bytes around the secret.
            lead = (0, 2, 3)[shift]
            body = text[lead : len(text) - 2]
            if len(body) >= 8:
                forms.add(body)
    return forms


def find_leaks(
    texts: Iterable[tuple[str, str]], secrets: Mapping[str, str], basic_credential: str
) -> list[str]:
    """Where any secret (plain or in base64), or the Basic credential, appears in
    ``(where, text)`` pairs; one line per hit, e.g. ``"OPENAI_API_KEY (base64) in state"``."""
    found = []
    forms = {name: b64_forms(value) for name, value in secrets.items()}
    for where, text in texts:
        for name, value in secrets.items():
            if value in text:
                found.append(f"{name} in {where}")
            elif any(form in text for form in forms[name]):
                found.append(f"{name} (base64) in {where}")
        if basic_credential in text:
            found.append(f"the Basic credential in {where}")
    return found
