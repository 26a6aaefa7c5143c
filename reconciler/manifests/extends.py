"""``extends:``: deep-merging a manifest onto a partial.

- ``extends`` names a **partial** by its path *relative to the agents directory* (``agents.d``),
  whichever file it is written in: ``extends: _base/openai.yaml`` means
  ``agents.d/_base/openai.yaml`` from ``agents.d/support.yaml`` and from
  ``agents.d/team/_base/x.yaml`` alike. It must stay inside the agents directory.
- A partial is a ``.yaml``/``.yml`` file whose name starts with ``_``, or that lies in a directory
  whose name starts with ``_``. It is never an agent itself; it holds exactly one mapping, must not
  set ``name``, and may itself ``extends`` another partial (chains are allowed, cycles are an
  error). Its blocks must have the shape the manifest schema gives them (a mapping where a
  mapping goes, a list where a list goes): checked on the partial itself, extended or not
  (:mod:`reconciler.manifests.partialshape`).
- Merging: mappings merge key by key, recursively; lists and scalars from the extending document
  replace the partial's (a ``null`` replaces too, which is how a key is removed again).
- Every merged key keeps the location it was written at, so a problem in a partial's key is
  reported at the partial's line.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.manifests.partialshape import partial_shape_problems
from reconciler.manifests.yamlfile import LineDict, ParsedFile

EXTENDS_KEY = "extends"


def is_partial(relative: str) -> bool:
    """Whether a file (path relative to the agents directory) is a partial."""
    return "_" in relative and any(part.startswith("_") for part in relative.split("/"))


def check_partial(parsed: ParsedFile) -> tuple[LineDict | None, list[Problem]]:
    """The one mapping a partial file holds, or the problems that make it unusable."""
    docs = parsed.documents
    if not docs and parsed.problems:  # unreadable: its problems say why
        return None, []
    if len(docs) != 1 or not isinstance(docs[0].value, LineDict):
        line = docs[1].line if len(docs) > 1 else docs[0].line if docs else 0
        message = "a partial must hold exactly one YAML document, a mapping"
        return None, [Problem(Location(parsed.path, line), message)]
    doc = docs[0].value
    if "name" in doc:
        return None, [Problem(doc.key_location("name"), "a partial must not set 'name'")]
    shape = partial_shape_problems(doc)
    return (None, shape) if shape else (doc, [])


MAX_MERGED_KEYS = 200_000
"""Most keys one merge may visit. YAML aliases let a short file name the same mapping many
times over; merging two such files visits every path, exponentially many."""


_SHOWN = 60
"""Most characters of an ``extends`` value a message shows."""


class MergeTooLarge(Exception):
    """A merge visited more than :data:`MAX_MERGED_KEYS` keys."""


def deep_merge(base: Any, override: Any, budget: list[int] | None = None) -> Any:
    """``override`` on top of ``base``: mappings merge, anything else replaces.

    ``budget`` (one count, shared by the recursion) defaults to :data:`MAX_MERGED_KEYS`; it runs
    out with :class:`MergeTooLarge`.
    """
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    if budget is None:
        budget = [MAX_MERGED_KEYS]
    budget[0] -= len(base) + len(override)
    if budget[0] < 0:
        raise MergeTooLarge
    merged = LineDict(getattr(override, "path", ""), getattr(override, "line", 0))
    lines = merged.lines
    paths: dict[Any, str] = {}
    merged.paths = paths
    for source in (base, override):
        # LineDict.key_location, inlined (this runs for every key of every manifest).
        located = isinstance(source, LineDict)
        source_lines = source.lines if isinstance(source, LineDict) else {}
        source_paths = source.paths if isinstance(source, LineDict) else None
        source_path = source.path if isinstance(source, LineDict) else ""
        source_line = source.line if isinstance(source, LineDict) else 0
        for key, value in source.items():
            if source is override and key in merged:
                value = deep_merge(merged[key], value, budget)
            merged[key] = value
            if located:
                lines[key] = source_lines.get(key, source_line)
                paths[key] = (
                    source_path if source_paths is None else source_paths.get(key, source_path)
                )
    return merged


class ExtendsResolver:
    """Resolves ``extends`` chains against the partials of one agents directory.

    ``partials`` maps each partial's path (relative to the agents directory) to its mapping, or to
    ``None`` when it is unusable (its problems were reported when it was read). ``others`` holds
    the relative paths of the non-partial manifest files, to say "not a partial" rather than "not
    found". Problems of a partial (missing file, cycle) are reported once, however many manifests
    extend it.
    """

    def __init__(
        self, partials: Mapping[str, LineDict | None], others: frozenset[str], agents_dir: str
    ) -> None:
        self._partials = partials
        self._others = others
        self._agents_dir = agents_dir
        self._resolved: dict[str, LineDict | None] = {}
        self._stack: list[str] = []
        self.problems: list[Problem] = []

    def prepare(self) -> None:
        """Resolve every partial now, in sorted order, so that each partial's problems (a cycle,
        a missing target) are found once and in the same way however the manifests that use
        it are read afterwards (in order, or split between worker processes), and so that
        resolving a manifest afterwards only reads the cache."""
        for target in sorted(self._partials):
            self._partial(target, Location(self._agents_dir))

    def resolve(self, doc: LineDict) -> LineDict | None:
        """``doc`` with its ``extends`` chain merged in (and removed); ``None`` on failure."""
        if EXTENDS_KEY not in doc:
            return doc
        target = self._target(doc)
        if target is None:
            return None
        base = self._partial(target, doc.key_location(EXTENDS_KEY))
        if base is None:
            return None
        own = LineDict(doc.path, doc.line)
        own.lines = doc.lines
        own.paths = doc.paths
        own.update((k, v) for k, v in doc.items() if k != EXTENDS_KEY)
        try:
            merged: LineDict = deep_merge(base, own)
        except MergeTooLarge:
            message = f"document too large with its extends (more than {MAX_MERGED_KEYS} keys)"
            self.problems.append(Problem(Location(doc.path, doc.line), message))
            return None
        return merged

    def _target(self, doc: LineDict) -> str | None:
        value = doc[EXTENDS_KEY]
        where = doc.key_location(EXTENDS_KEY)
        if not isinstance(value, str) or not value.strip():
            self.problems.append(
                Problem(where, f"extends must be the path of a partial in {self._agents_dir}")
            )
            return None
        target = posixpath.normpath(value.strip())
        value = value if len(value) <= _SHOWN else value[: _SHOWN - 3] + "..."
        if target.startswith(("/", "../")) or target in ("..", "."):
            self.problems.append(
                Problem(where, f"extends '{value}' must be a path inside {self._agents_dir}")
            )
            return None
        if target not in self._partials:
            if target in self._others:
                message = (
                    f"extends '{value}' is not a partial (a partial's file name, or one of its"
                    " directories, starts with '_')"
                )
            else:
                message = f"extends '{value}': no such file in {self._agents_dir}"
            self.problems.append(Problem(where, message))
            return None
        return target

    def _partial(self, target: str, where: Location) -> LineDict | None:
        if target in self._resolved:
            return self._resolved[target]
        if target in self._stack:
            chain = [*self._stack[self._stack.index(target) :], target]
            self.problems.append(Problem(where, f"extends cycle: {' -> '.join(chain)}"))
            for member in chain:
                self._resolved[member] = None
            return None
        doc = self._partials[target]
        if doc is None:
            self._resolved[target] = None
            return None
        self._stack.append(target)
        try:
            resolved = self.resolve(doc)
        finally:
            self._stack.pop()
        self._resolved.setdefault(target, resolved)
        return self._resolved[target]
