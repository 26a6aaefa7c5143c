"""What the loads of one ``agents.d/`` for several environments share (``plan --env all``).

Every environment reads the same files, and most documents look the same in each: a document
without ``environments:`` or ``overrides:`` (and extending no partial that has them) is loaded
from the same text with the same variables, whatever the environment. :class:`SharedLoads`
keeps, for the loads of one command in one process:

- each file as parsed (read and parsed once, whichever environment asks first);
- each document as loaded (:class:`~reconciler.manifests.document.LoadedDocument`: its agent or
  resource, its problems, and the problems its ``extends`` gave), keyed by the file, the
  document's place in it and everything the load depends on besides the text: the variables
  the environment sees (every value, so an environment whose ``variables:`` rename a secret
  never gets another environment's), the settings that decide checks (App Certificate,
  sandbox), whether unset variables are accepted, and, for a document that differs between
  environments, the environment itself.

A document is thus loaded once per distinct set of inputs; every environment gets exactly
what loading it alone gives (problems are tagged with the environment afterwards, by the
loader). A file's parse tree is dropped once every load that shares it has read it, so memory
holds each file's tree only until the last environment is done with it, as a single load
does; the loaded documents are the environments' agents themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.errors import Problem
from reconciler.manifests.environments import ENVIRONMENTS_KEY, OVERRIDES_KEY
from reconciler.manifests.yamlfile import LineDict, ParsedFile

if TYPE_CHECKING:
    from reconciler.manifests.document import LoadedDocument

__all__ = ["SharedLoads", "differs_by_environment"]


@dataclass
class _Loaded:
    document: LoadedDocument
    extends_problems: list[Problem] = field(default_factory=list)


class SharedLoads:
    """Parsed files and loaded documents, shared by the loads of several environments."""

    def __init__(self, loads: int) -> None:
        """For ``loads`` loads (one per environment); use them one at a time (:meth:`turn`)."""
        self._loads = loads
        self._files: dict[str, ParsedFile] = {}
        self._reads: dict[str, int] = {}
        self._documents: dict[Hashable, _Loaded] = {}
        self._contexts: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One load at a time: the second finds what the first loaded instead of loading it
        again beside it (loads run in threads beside their environment's engine calls)."""
        with self._lock:
            yield

    def context(self, environ: Mapping[str, str], *flags: Hashable) -> int:
        """A number for what a document's load depends on besides its text and environment
        (see the module docstring): every variable with its value, and ``flags``. Loads that
        see the same get the same number."""
        key = (tuple(sorted(environ.items())), flags)
        return self._contexts.setdefault(key, len(self._contexts))

    def parsed(self, relative: str, parse: Callable[[], ParsedFile]) -> ParsedFile:
        """The file ``relative`` (to the project directory) as ``parse`` gives it, parsed once
        (each load asks once for each file; the last one takes the tree with it)."""
        found = self._files.get(relative)
        if found is None:
            found = self._files[relative] = parse()
        reads = self._reads[relative] = self._reads.get(relative, 0) + 1
        if reads >= self._loads:
            del self._files[relative]
        return found

    def document(
        self,
        key: Hashable,
        load: Callable[[], LoadedDocument],
        extends_problems: Callable[[], list[Problem]],
    ) -> tuple[LoadedDocument, list[Problem]]:
        """The document ``key`` as ``load`` gives it, with the ``extends`` problems its load
        reported (``extends_problems``, called right after ``load``); loaded once per key."""
        found = self._documents.get(key)
        if found is None:
            document = load()
            found = self._documents[key] = _Loaded(document, extends_problems())
        return found.document, found.extends_problems


def differs_by_environment(value: object) -> bool:
    """Whether a document (or partial) says anything per environment."""
    return isinstance(value, LineDict) and (ENVIRONMENTS_KEY in value or OVERRIDES_KEY in value)
