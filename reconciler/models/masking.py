"""Masking known secrets in a text, in every encoding a server could echo them in.

A server's error text may quote a value we sent in another form than we sent it: a URL that
carries a key is quoted percent-encoded (``https%3A%2F%2Fllm.example%2Fv1%3Fkey%3D...``), a
header as base64, a body as hex. :func:`mask_secrets` finds each secret as

- the raw text, also behind any escaping a server quotes a string with: backslash escapes (JSON
  of any encoder, ``\\"``, ``\\/``, ``\\u00e9`` or ``\\u00E9``, Go's ``\\u0026``, a surrogate pair;
  Python's ``\\'``, ``\\xe9``, ``\\U0001f600``; YAML's double-quoted scalars), HTML and XML
  character references (``&quot;``, ``&#39;``, ``&#x27;``), and either escaped twice (JSON inside
  JSON);
- each line of a secret that holds several (a PEM key, a credentials file), by itself, when it is
  long enough to be distinctive: a server may quote a value up to its first line break;
- any of these forms cut short, when at least 16 bytes of it end the text or come before an
  ellipsis (``...``, ``…``): a server may truncate a long value it quotes;
- base64 and base64url, padded or not, also at byte offset 1 or 2 of a longer encoded value
  (``id:secret`` in a Basic header): the characters that depend only on the secret;
- hex, lower or upper case;
- percent-encoded, wholly or partly, in any mix (``quote``, ``quote_plus`` with ``+`` for a
  space, a ``%2F`` here and a raw ``/`` there), or percent-encoded twice (``%252F``); each of the
  other forms is found percent-encoded too.

Percent-encoding and escapes are undone on copies of the text that remember where each byte came
from, so a secret found in a decoded copy masks exactly the characters that spelled it in the
original.
Secrets shorter than :data:`~reconciler.models.secrets.MIN_SECRET_CHARS` are left alone (they
would match anywhere).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from functools import lru_cache
from html.entities import html5
from urllib.parse import unquote_plus, urlsplit

from reconciler.models.secrets import MIN_SECRET_CHARS, is_secret_key

__all__ = [
    "Forms",
    "forms_of",
    "mask_forms",
    "mask_secrets",
    "mask_url_credentials",
    "secret_forms",
]

_MIN_FRAGMENT_CHARS = 8
_HEX = frozenset("0123456789abcdefABCDEF")


@lru_cache(maxsize=16384)
def secret_forms(secret: str) -> frozenset[bytes]:
    """The byte strings that give ``secret`` away in a text (before percent-decoding).

    Raw (UTF-8), hex (lower and upper), and base64 / base64url with or without padding; besides
    the whole encodings, the characters that depend only on ``secret`` when it sits at byte
    offset 1 or 2 of a longer encoded value, when they are long enough to be distinctive; and
    the forms of each line of a secret of several lines, each line of at least that length.
    Escaped forms (JSON, HTML, ...) need none of their own: the text is searched with its
    escapes undone too. Empty for a secret shorter than
    :data:`~reconciler.models.secrets.MIN_SECRET_CHARS`.
    """
    if len(secret) < MIN_SECRET_CHARS:
        return frozenset()
    raw = secret.encode("utf-8", "surrogatepass")
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    lines = [line.strip() for line in secret.splitlines()]
    for line in lines if len(lines) > 1 else []:
        if len(line) >= _MIN_FRAGMENT_CHARS:
            forms |= secret_forms(line)
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
    """The text as written, percent-decoded (once, twice, ``+`` as a space), and each of these
    with its escapes undone: backslash escapes or character references, then either again
    (JSON inside JSON, JSON in an HTML page); each scheme alone, since a secret may hold what
    reads as an escape of the other (a ``\\/`` in a secret quoted in HTML)."""
    view = _View.of(text)
    views = [view]
    if "%" in text:
        once = view.percent_decoded(plus_is_space=False)
        views.append(once)
        if b"%" in once.data:
            views.append(once.percent_decoded(plus_is_space=False))
    if "+" in text:
        views.append(view.percent_decoded(plus_is_space=True))
    seen = {view.data for view in views}
    for view in list(views):
        for first in _ESCAPES:
            if not first.search(view.data):
                continue
            once = view.unescaped(first)
            decoded = [once, *(once.unescaped(then) for then in _ESCAPES if then.search(once.data))]
            for candidate in decoded:  # the same bytes reached another way need no second scan
                if candidate.data not in seen:
                    seen.add(candidate.data)
                    views.append(candidate)
    return views


_BACKSLASH = re.compile(rb"\\(?:[\"\\/'bfnrtv0]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2})")
"""A backslash escape (JSON, Python, YAML, C)."""
_REFERENCE = re.compile(rb"&(?:#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
"""An HTML or XML character reference."""
_ESCAPES = (_BACKSLASH, _REFERENCE)
_SIMPLE_ESCAPES = {
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
    ord("v"): "\v",
    ord("0"): "\0",
}


def _escape_value(match: re.Match[bytes]) -> str | None:
    """The character an escape or a character reference stands for (None: not one)."""
    token = match.group()
    if token[:1] == b"\\":
        kind = token[1]
        if kind in (0x75, 0x55, 0x78):  # u, U, x: a code point (a UTF-16 unit for u)
            code = int(token[2:], 16)
            return chr(code) if code <= 0x10FFFF else None
        return _SIMPLE_ESCAPES.get(kind, chr(kind))
    if token[1:2] == b"#":
        number = token[2:-1]
        code = int(number[1:], 16) if number[:1] in (b"x", b"X") else int(number)
        return chr(code) if code <= 0x10FFFF else None
    return html5.get(token[1:].decode("ascii"))


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

    def unescaped(self, escape: re.Pattern[bytes]) -> _View:
        """This view with the escapes ``escape`` finds undone (:data:`_BACKSLASH` or
        :data:`_REFERENCE`); a UTF-16 surrogate pair (``\\ud83d\\ude00``) becomes the one
        character it spells."""
        data, starts, ends = self.data, self.starts, self.ends
        out = bytearray()
        out_starts: list[int] = []
        out_ends: list[int] = []
        position = 0
        pending: tuple[str, int, int] | None = None
        """A high surrogate not yet written: it may pair with the next escape."""

        def put(chunk: bytes, start: int, end: int) -> None:
            out.extend(chunk)
            out_starts.extend([start] * len(chunk))
            out_ends.extend([end] * len(chunk))

        def flush() -> None:
            nonlocal pending
            if pending is not None:
                put(pending[0].encode("utf-8", "surrogatepass"), pending[1], pending[2])
                pending = None

        for match in escape.finditer(data):
            at, until = match.span()
            if at > position:
                flush()
                out.extend(data[position:at])
                out_starts.extend(starts[position:at])
                out_ends.extend(ends[position:at])
            position = until
            char = _escape_value(match)
            start, end = starts[at], ends[until - 1]
            if char is None:
                flush()
                put(match.group(), start, end)
                continue
            if pending is not None and "\udc00" <= char <= "\udfff":
                pair = (pending[0] + char).encode("utf-16", "surrogatepass").decode("utf-16")
                put(pair.encode("utf-8"), pending[1], end)
                pending = None
                continue
            flush()
            if "\ud800" <= char <= "\udbff":
                pending = (char, start, end)
                continue
            put(char.encode("utf-8", "surrogatepass"), start, end)
        flush()
        out.extend(data[position:])
        out_starts.extend(starts[position:])
        out_ends.extend(ends[position:])
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
                    continue
                cut = _cut_short(data, at, form)
                if cut:
                    found.append((self.starts[at], self.ends[at + cut - 1]))
        return found


_MIN_CUT_BYTES = 16
"""The least of a form a text must hold, cut short, for it to be masked (distinctive)."""
_AFTER_CUT = b" \t\r\n\"'`)]}>"
"""What may follow a value a server cut short at the end of its text (closing quotes)."""
_CUT_MARKS = (b"...", "\u2026".encode())


def _cut_short(data: bytes, at: int, form: bytes) -> int:
    """How many bytes of ``form`` start at ``at`` when the text holds the form cut short (at
    least :data:`_MIN_CUT_BYTES`, then the text's end or an ellipsis, as a server that truncates
    a long value writes it); 0 otherwise."""
    limit = min(len(form), len(data) - at)
    if limit < _MIN_CUT_BYTES or data[at : at + _MIN_CUT_BYTES] != form[:_MIN_CUT_BYTES]:
        return 0
    length = _MIN_CUT_BYTES
    while length < limit and data[at + length] == form[length]:
        length += 1
    rest = data[at + length :]
    return length if not rest.strip(_AFTER_CUT) or rest.startswith(_CUT_MARKS) else 0


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


def mask_url_credentials(url: str, mask: str = "***") -> str:
    """``url`` as shown to people: the password of its userinfo and the value of each query
    parameter whose name is secret-like (``token``, ``key``, ``password``, ``signature``, ...)
    replaced by ``mask``; the rest as written (``https://u:***@host/ncs?token=***&a=1``)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # unbalanced [ ] around an IPv6 address: no part of it is shown
        return mask
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:{mask}@{hostinfo}"
    params = []
    for param in parts.query.split("&") if parts.query else []:
        name, equals, _value = param.partition("=")
        params.append(f"{name}={mask}" if equals and is_secret_key(unquote_plus(name)) else param)
    query = "&".join(params)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{mask}" if parts.fragment else "")
    )
