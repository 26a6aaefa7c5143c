"""Masking known secrets in a text, in every encoding a server could echo them in.

A server's error text may quote a value we sent in another form than we sent it: a URL that
carries a key is quoted percent-encoded (``https%3A%2F%2Fllm.example%2Fv1%3Fkey%3D...``), a
header as base64, a body as hex. :func:`mask_secrets` finds each secret as

- the raw text, and the text escaped inside a JSON string;
- base64 and base64url, padded or not, also at byte offset 1 or 2 of a longer encoded value
  (``id:secret`` in a Basic header): the characters that depend only on the secret;
- hex, lower or upper case;
- percent-encoded, wholly or partly, in any mix (``quote``, ``quote_plus`` with ``+`` for a
  space, a ``%2F`` here and a raw ``/`` there), or percent-encoded twice (``%252F``); each of the
  other forms is found percent-encoded too.

Percent-encoding is undone on a copy of the text that remembers where each byte came from, so a
secret found in the decoded copy masks exactly the characters that spelled it in the original.
Secrets shorter than :data:`~reconciler.models.secrets.MIN_SECRET_CHARS` are left alone (they
would match anywhere).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from functools import lru_cache

from reconciler.models.secrets import MIN_SECRET_CHARS

__all__ = ["Forms", "forms_of", "mask_forms", "mask_secrets", "secret_forms"]

_MIN_FRAGMENT_CHARS = 8
_HEX = frozenset("0123456789abcdefABCDEF")


@lru_cache(maxsize=16384)
def secret_forms(secret: str) -> frozenset[bytes]:
    """The byte strings that give ``secret`` away in a text (before percent-decoding).

    Raw (UTF-8), JSON-escaped, hex (lower and upper), and base64 / base64url with or without
    padding; besides the whole encodings, the characters that depend only on ``secret`` when it
    sits at byte offset 1 or 2 of a longer encoded value, when they are long enough to be
    distinctive. Empty for a secret shorter than
    :data:`~reconciler.models.secrets.MIN_SECRET_CHARS`.
    """
    if len(secret) < MIN_SECRET_CHARS:
        return frozenset()
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms.add(escaped.encode("utf-8", "surrogatepass"))
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw)
        forms |= {whole, whole.rstrip(b"=")}
        if len(whole.rstrip(b"=")) >= _MIN_FRAGMENT_CHARS:
            forms.add(whole.rstrip(b"=")[:-2])
        for shift in (1, 2):
            text = encode(b"\0" * shift + raw).rstrip(b"=")
            core = text[shift + 1 : len(text) - 2]
            if len(core) >= _MIN_FRAGMENT_CHARS:
                forms.add(core)
    return frozenset(forms)


def _views(text: str) -> list[_View]:
    view = _View.of(text)
    views = [view]
    if "%" in text:
        once = view.percent_decoded(plus_is_space=False)
        views.append(once)
        if b"%" in once.data:
            views.append(once.percent_decoded(plus_is_space=False))
    if "+" in text:
        views.append(view.percent_decoded(plus_is_space=True))
    return views


_KEY_BYTES = 4
"""Forms are indexed by their first bytes: every form is at least this long (a secret has at
least :data:`~reconciler.models.secrets.MIN_SECRET_CHARS` characters)."""


class Forms:
    """The forms of many secrets, indexed by their first bytes, so that a text is scanned once
    whatever their number (thousands of agents each with their own keys)."""

    __slots__ = ("index",)

    def __init__(self, forms: Iterable[bytes] = ()) -> None:
        index: dict[bytes, set[bytes]] = {}
        for form in forms:
            if len(form) >= _KEY_BYTES:
                index.setdefault(form[:_KEY_BYTES], set()).add(form)
        self.index = {key: tuple(bucket) for key, bucket in index.items()}

    def __bool__(self) -> bool:
        return bool(self.index)


def forms_of(secrets: Iterable[str]) -> Forms:
    """The forms of every secret (:func:`secret_forms`), to mask many texts with
    (:func:`mask_forms`) without computing them again."""
    forms: set[bytes] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    return Forms(forms)


class _View:
    """The bytes of a text, each with the span of original characters it came from."""

    __slots__ = ("data", "ends", "starts")

    def __init__(self, data: bytes, starts: list[int], ends: list[int]) -> None:
        self.data = data
        self.starts = starts
        self.ends = ends

    @classmethod
    def of(cls, text: str) -> _View:
        if text.isascii():
            return cls(text.encode("ascii"), list(range(len(text))), list(range(1, len(text) + 1)))
        data = bytearray()
        starts: list[int] = []
        ends: list[int] = []
        for index, char in enumerate(text):
            encoded = char.encode("utf-8", "surrogatepass")
            data += encoded
            starts += [index] * len(encoded)
            ends += [index + 1] * len(encoded)
        return cls(bytes(data), starts, ends)

    def percent_decoded(self, plus_is_space: bool) -> _View:
        """This view with ``%XX`` (and, if asked, ``+``) decoded."""
        data, starts, ends = self.data, self.starts, self.ends
        out = bytearray()
        out_starts: list[int] = []
        out_ends: list[int] = []
        index, size = 0, len(data)
        while index < size:
            byte = data[index]
            if (
                byte == 0x25  # %
                and index + 2 < size
                and chr(data[index + 1]) in _HEX
                and chr(data[index + 2]) in _HEX
            ):
                out.append(int(data[index + 1 : index + 3], 16))
                out_starts.append(starts[index])
                out_ends.append(ends[index + 2])
                index += 3
                continue
            out.append(0x20 if plus_is_space and byte == 0x2B else byte)
            out_starts.append(starts[index])
            out_ends.append(ends[index])
            index += 1
        return _View(bytes(out), out_starts, out_ends)

    def spans(self, forms: Forms) -> list[tuple[int, int]]:
        """The original character spans of every occurrence of every form: one pass over the
        bytes, looking each position's first bytes up in the forms' index."""
        found = []
        data, index, width = self.data, forms.index, _KEY_BYTES
        for at in range(len(data) - width + 1):
            bucket = index.get(data[at : at + width])
            if bucket is None:
                continue
            for form in bucket:
                if data.startswith(form, at):
                    found.append((self.starts[at], self.ends[at + len(form) - 1]))
        return found


def mask_secrets(text: str, secrets: Iterable[str], mask: str) -> str:
    """``text`` with every form of every secret (see the module docstring) replaced by ``mask``.

    Overlapping or adjacent matches are masked as one.
    """
    return mask_forms(text, [forms_of(secrets)], mask)


def mask_forms(text: str, form_sets: Iterable[Forms], mask: str) -> str:
    """``text`` with every occurrence of the forms of ``form_sets`` (from :func:`forms_of`)
    replaced by ``mask``, found in the text as written and percent-decoded (see the module
    docstring)."""
    sets = [forms for forms in form_sets if forms]
    if not sets or not text:
        return text
    spans: list[tuple[int, int]] = []
    for view in _views(text):
        for forms in sets:
            spans += view.spans(forms)
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    position = 0
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:
            end = max(end, next_end)
            continue
        parts += [text[position:start], mask]
        position, start, end = end, next_start, next_end
    parts += [text[position:start], mask, text[end:]]
    return "".join(parts)
