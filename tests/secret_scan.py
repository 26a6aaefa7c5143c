"""Finding secrets in what the tool wrote: plain, inside base64 text at any alignment, in hex
(either case), JSON-escaped, or percent-encoded in whole or in part (once or twice); also behind
any backslash escape (JSON of any encoder: ``\\u00e9``, ``\\/``, Go's ``\\u0026``; Python's
``\\'`` and ``\\xe9``; YAML's ``\\U0001f600``), behind HTML character references
(``&quot;``, ``&#x27;``), and each line of a secret that holds several, by itself.

Shared by the end-to-end and reliability suites (each passes its own secrets and the Basic
credential it authenticates with). Written apart from the code under test: it decodes the text
(``unquote``) rather than encoding the secret the way the scrubber does.
"""

from __future__ import annotations

import base64
import codecs
import html
import json
import warnings
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


def unescaped(text: str) -> str:
    """``text`` with its backslash escapes undone as Python reads them (``\\/`` as ``/``, a
    surrogate pair as the character it spells); ``text`` itself where they do not read."""
    ascii_text = text.replace("\\/", "/").encode("latin-1", "backslashreplace")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown escape is kept as written
            decoded_text = codecs.decode(ascii_text, "unicode_escape")
        return decoded_text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        return text


def decoded(text: str) -> dict[str, str]:
    """``text`` percent-decoded once, twice, and with ``+`` as a space, with its backslash
    escapes or HTML character references undone (where it changes)."""
    views = {"percent-decoded": unquote(text), "percent-decoded twice": unquote(unquote(text))}
    views["form-decoded"] = unquote_plus(text)
    for kind, view in [("", text), *views.items()]:
        views[f"{kind}{', ' if kind else ''}unescaped"] = unescaped(view)
        views[f"{kind}{', ' if kind else ''}HTML-unescaped"] = html.unescape(view)
    return {kind: view for kind, view in views.items() if view != text}


def lines_of(secrets: Mapping[str, str]) -> dict[str, str]:
    """``secrets``, plus each line of 8 characters or more of a secret that holds several (a
    server may quote a value up to its first line break)."""
    found = dict(secrets)
    for name, value in secrets.items():
        lines = [line.strip() for line in value.splitlines()]
        if len(lines) > 1:
            found |= {f"{name} (line {n})": line for n, line in enumerate(lines) if len(line) >= 8}
    return found


def find_leaks(
    texts: Iterable[tuple[str, str]], secrets: Mapping[str, str], basic_credential: str
) -> list[str]:
    """Where any secret (in any form of the module docstring), or the Basic credential, appears
    in ``(where, text)`` pairs; one line per hit, e.g. ``"OPENAI_API_KEY (base64) in state"``."""
    found = []
    secrets = lines_of(secrets)
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
