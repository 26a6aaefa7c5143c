"""Finding secrets in what the tool wrote: plain, inside base64 text at any alignment, in hex
(either case), JSON-escaped, or percent-encoded in whole or in part (once or twice).

Shared by the end-to-end and reliability suites (each passes its own secrets and the Basic
credential it authenticates with). Written apart from the code under test: it decodes the text
(``unquote``) rather than encoding the secret the way the scrubber does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, unquote_plus


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


def other_forms(secret: str) -> dict[str, str]:
    """Hex (lower and upper case) and JSON-escaped forms of ``secret``."""
    raw = secret.encode()
    return {
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "JSON-escaped": json.dumps(secret)[1:-1],
    }


def decoded(text: str) -> dict[str, str]:
    """``text`` percent-decoded once, twice, and with ``+`` as a space (where it changes)."""
    views = {"percent-decoded": unquote(text), "percent-decoded twice": unquote(unquote(text))}
    views["form-decoded"] = unquote_plus(text)
    return {kind: view for kind, view in views.items() if view != text}


def find_leaks(
    texts: Iterable[tuple[str, str]], secrets: Mapping[str, str], basic_credential: str
) -> list[str]:
    """Where any secret (in any form of the module docstring), or the Basic credential, appears
    in ``(where, text)`` pairs; one line per hit, e.g. ``"OPENAI_API_KEY (base64) in state"``."""
    found = []
    forms = {name: b64_forms(value) for name, value in secrets.items()}
    others = {name: other_forms(value) for name, value in secrets.items()}
    for where, text in texts:
        views = {"": text, **decoded(text)}
        for name, value in secrets.items():
            hits = [
                f"{name}{f' ({kind})' if kind else ''} in {where}"
                for kind, view in views.items()
                if value in view
            ]
            hits += [
                f"{name} ({kind}base64) in {where}"
                for kind, view in views.items()
                if any(form in view for form in forms[name])
                for kind in [f"{kind}, " if kind else ""]
            ]
            hits += [
                f"{name} ({form}) in {where}"
                for form, encoded in others[name].items()
                if encoded != value and any(encoded in view for view in views.values())
            ]
            found += hits[:1]
        if basic_credential in text:
            found.append(f"the Basic credential in {where}")
    return found
