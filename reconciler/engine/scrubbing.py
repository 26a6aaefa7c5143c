"""The secrets an engine client knows, to scrub them from engine-supplied text.

Three kinds are known: the secrets inside a request's body (vendor keys, tokens), values the
project registered (:meth:`Scrubber.add`, e.g. keys sent at join that an error about a later call
could quote), and the credentials of recent ``Authorization`` headers, which the client's auth
flow hands to :meth:`Scrubber.remember`. :meth:`Scrubber.scrub` applies
:func:`reconciler.engine.wire.scrub` with all of them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.wire import scrub
from reconciler.models.masking import Forms, forms_of
from reconciler.models.secrets import secret_strings

KEPT_CREDENTIAL_PARTS = 9
"""How many credential parts of earlier auth headers are kept (REST tokens are minted again)."""


class Scrubber:
    """Removes every secret this client knows from engine text before it is quoted."""

    def __init__(self) -> None:
        self._credentials: list[str] = []
        self._known: set[str] = set()
        self._forms: Forms | None = None
        """The forms of every secret known here, computed once per change of the secrets."""

    def add(self, values: Iterable[str]) -> None:
        """Also scrub these values (empty ones are ignored)."""
        self._known.update(v for v in values if v)
        self._forms = None

    def remember(self, header: str) -> None:
        """Keep the credential parts of an ``Authorization`` header value: the credential and,
        for Basic, the ``id:secret`` it encodes and the secret."""
        credential = header.split("=", 1)[-1] if "token=" in header else header.split(" ", 1)[-1]
        if credential in self._credentials:
            return
        parts = [credential]
        if header.startswith("Basic "):
            try:
                pair = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            parts += [pair, pair.partition(":")[2]] if pair else []
        self._credentials = [*self._credentials[-KEPT_CREDENTIAL_PARTS:], *parts]
        self._forms = None

    def scrub(self, text: str | None, body: Mapping[str, Any] | None = None) -> str:
        """``text`` without any secret known here or carried by ``body``; '' for no text."""
        if not text:
            return ""
        secrets = secret_strings(body) if body is not None else set()
        if self._forms is None:
            self._forms = forms_of([*self._known, *self._credentials])
        return scrub(text, secrets, forms=self._forms)
