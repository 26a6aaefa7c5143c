"""Loading the desired agents from the agents directory (``agents.d/``).

:func:`load_desired` reads every ``*.yaml``/``*.yml`` file under the agents directory (recursively;
hidden files and directories are skipped), in sorted order. Files whose name, or one of whose
directories, starts with ``_`` are partials (see :mod:`reconciler.manifests.extends`); every
other file holds one agent per YAML document.

Only regular files of at most :data:`MAX_FILE_BYTES` are read; a FIFO, socket or device is
refused without being opened, and so is a file whose real path (after symbolic links) is outside
the agents directory.

Whatever cannot be read is a located problem that stops the command before it plans: a
directory that cannot be listed, a file or link target that cannot be opened, a dangling link,
a link to a directory. A manifest is never taken as removed because it could not be read (its
agent would be stopped).

It reports every problem of every file at once: a :class:`~reconciler.errors.ValidationError`
whose problems are ``path:line: message`` with paths relative to the project directory, sorted by
file and line, each reported once. Agent names must be unique across all files, and so must each
channel and uid pair (:mod:`reconciler.manifests.conflicts`); a duplicate is reported at every
place it is used.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from reconciler.errors import Location, Problem, SettingsError, ValidationError
from reconciler.manifests import parallel
from reconciler.manifests.checks import (
    duplicate_resources,
    duplicate_values,
    undeclared_references,
)
from reconciler.manifests.conflicts import duplicate_names, duplicate_renames, duplicate_uids
from reconciler.manifests.document import LoadedDocument, load_document
from reconciler.manifests.excerpt import with_excerpts
from reconciler.manifests.extends import EXTENDS_KEY, ExtendsResolver, check_partial, is_partial
from reconciler.manifests.shared import SharedLoads, differs_by_environment
from reconciler.manifests.yamlfile import Document, LineDict, ParsedFile, decode, parse_yaml
from reconciler.models.desired import DesiredSet
from reconciler.models.resources import DesiredResource
from reconciler.models.settings import Settings
from reconciler.safefile import read_regular

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 16 << 20
"""Largest manifest or settings file read (16 MiB); a larger one is refused."""
ENV_WORKERS = "RECONCILER_WORKERS"
"""How many processes read the manifests (default: one per CPU, up to 4, for 400+ files)."""


def display_path(path: Path, project_dir: Path) -> str:
    """``path`` relative to the project directory (POSIX separators) when it lies inside it."""
    try:
        return path.relative_to(project_dir).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, project_dir)).as_posix()


@dataclass(frozen=True)
class Unreadable:
    """An entry under the agents directory that could not be listed or looked at."""

    relative: str
    """POSIX path relative to the agents directory (``""``: the directory itself)."""
    reason: str


@dataclass
class Discovered:
    """What :func:`discover` found: manifest files, and what it could not read."""

    files: list[str] = field(default_factory=list)
    """Sorted POSIX paths relative to the agents directory."""
    unreadable: list[Unreadable] = field(default_factory=list)


def discover(agents_dir: Path) -> Discovered:
    """Manifest files under ``agents_dir``, and every directory that could not be read.

    Nothing is skipped in silence: a directory that cannot be listed (no permission, an I/O
    error) or a link to a directory (never followed) is :class:`Unreadable`, since its
    manifests would otherwise count as removed and their agents be stopped; so is a file whose
    name ends in ``.yaml``/``.yml`` in other letter cases (``x.YAML``). Hidden entries (``.git``,
    ``.swp``) and files of other suffixes are the only ones left out on purpose.
    """
    found = Discovered()
    pending = [""]
    while pending:
        base = pending.pop()
        try:
            with os.scandir(os.path.join(agents_dir, base) if base else agents_dir) as listing:
                entries = list(listing)
        except OSError as exc:
            found.unreadable.append(Unreadable(base, _reason(exc, "cannot read directory")))
            continue
        prefix = base + "/" if base else ""  # by string: pathlib per file costs more
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(prefix + name)
                    continue
                if entry.is_symlink() and entry.is_dir():
                    found.unreadable.append(Unreadable(prefix + name, _LINKED_DIRECTORY))
                    continue
            except OSError as exc:
                found.unreadable.append(Unreadable(prefix + name, _reason(exc, "cannot read")))
                continue
            if name.endswith(MANIFEST_SUFFIXES):
                found.files.append(prefix + name)
            elif name.lower().endswith(MANIFEST_SUFFIXES):
                found.unreadable.append(Unreadable(prefix + name, _CAPITAL_SUFFIX))
    found.files.sort()
    found.unreadable.sort(key=lambda u: u.relative)
    return found


_CAPITAL_SUFFIX = "not read: a manifest's file name ends in .yaml or .yml, in lowercase (rename it)"
"""For ``x.YAML``: skipped, a renamed manifest would count as removed and its agent stop."""
_LINKED_DIRECTORY = (
    "refused: a link to a directory is not followed (move the directory into the agents "
    "directory, or link its files one by one)"
)


def _reason(exc: OSError, what: str) -> str:
    return f"{what}: {exc.strerror or type(exc).__name__}"


def read_file(path: Path, shown: str) -> ParsedFile:
    """Read and parse one YAML file; an unreadable file is a problem, not an exception.

    Only a regular file of at most :data:`MAX_FILE_BYTES` is read (see
    :func:`reconciler.safefile.read_regular`): a FIFO, device or socket is refused unopened.
    """
    try:
        raw, _ = read_regular(path, MAX_FILE_BYTES)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return ParsedFile(shown, problems=[Problem(Location(shown), f"cannot read: {reason}")])
    text, problems = decode(raw, shown)
    if problems:
        return ParsedFile(shown, problems=problems)
    return parse_yaml(text, shown)


def finish(problems: list[Problem]) -> list[Problem]:
    """Problems without repeats, sorted by file and line (stable otherwise)."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.location.path, p.location.line))


def load_desired(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    workers: int | None = None,
    allow_unset: bool = False,
    shared: SharedLoads | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> DesiredSet:
    """Every agent the manifests declare, or a ValidationError carrying every problem found.

    ``allow_unset`` (``validate``, ``plan --no-refresh``: commands made to run without secrets)
    accepts unset ``${VAR}``s: their values are unknown (:attr:`DesiredAgent.unknown`).

    Large agents directories are read by several processes (:mod:`.parallel`); ``workers``, or
    else ``RECONCILER_WORKERS`` in ``environ``, sets how many (1: this process only).

    ``shared``: files and documents shared with the loads of other environments in this process
    (:mod:`.shared`); the load then runs in this process only.

    ``meanwhile``: work for this process while worker processes read the files (see
    :func:`.parallel.load_files`); it runs at most once, and not at all when the load fails
    before the agent files are read (no agents directory, say).
    """
    if workers is None:
        workers = _workers_from(environ)
    if shared is not None:
        workers = 1
    project = settings.project_dir
    agents_dir = settings.agents_path
    shown_dir = display_path(agents_dir, project)
    _require_agents_dir(agents_dir, shown_dir)
    discovered = discover(agents_dir)
    relatives = discovered.files
    # Display paths by string: the agents directory's own, then "/" and the POSIX relative path
    # (pathlib per file cost more than parsing some of them).
    prefix = "" if shown_dir == "." else shown_dir + "/"
    shown = {rel: prefix + rel for rel in relatives}
    refused, problems = _outside(agents_dir, relatives, shown, shown_dir)
    problems.extend(
        Problem(Location(prefix + u.relative if u.relative else shown_dir), u.reason)
        for u in discovered.unreadable
    )
    partials, agent_files = _partials_and_agent_files(
        agents_dir, relatives, shown, refused, problems
    )

    resolver = ExtendsResolver(partials, frozenset(agent_files), shown_dir)
    resolver.prepare()
    problems.extend(resolver.problems)
    loader = _AgentFilesLoader.of(
        settings,
        environ,
        shown,
        resolver,
        partials,
        shown_dir=shown_dir,
        allow_unset=allow_unset,
        shared=shared,
    )
    loaded = parallel.load_files(agent_files, loader.load_files, workers, meanwhile=meanwhile)
    problems.extend(loaded.problems)
    agents = loaded.agents
    resources = _resources_by_address(loaded)
    problems.extend(_across_files_problems(loaded, resources, settings))
    if problems:
        if settings.environment is not None:
            problems = [tagged(p, settings.environment) for p in problems]
        raise ValidationError(with_excerpts(finish(problems), project), what=shown_dir)
    return DesiredSet(
        agents={agent.name: agent for agent in sorted(agents, key=lambda a: a.name)},
        files=tuple(sorted(shown.values())),
        resources={address: found[0] for address, found in sorted(resources.items())},
        unmanaged=tuple(sorted(settings.unmanaged)),
    )


@dataclass
class _AgentFilesLoader:
    """Loads agent files into a :class:`parallel.LoadedBatch` (in this process or in a forked
    worker), each document on its own or, with ``shared``, once for every environment it
    reads the same in."""

    settings: Settings
    environ: Mapping[str, str]
    shown: Mapping[str, str]
    """Each file's display path, by its path relative to the agents directory."""
    resolver: ExtendsResolver
    allow_unset: bool
    has_certificate: bool
    sandbox: bool
    """Whether the engine is the sandbox."""
    platform_sandbox: bool
    """Whether the Platform is the sandbox."""
    shared: SharedLoads | None
    context: int
    """The key of what the shared loads' environment reads (0 without ``shared``)."""
    partials_differ: bool
    """Whether a partial reads differently in another environment."""

    @classmethod
    def of(
        cls,
        settings: Settings,
        environ: Mapping[str, str],
        shown: Mapping[str, str],
        resolver: ExtendsResolver,
        partials: Mapping[str, LineDict | None],
        *,
        shown_dir: str,
        allow_unset: bool,
        shared: SharedLoads | None,
    ) -> _AgentFilesLoader:
        """The loader of ``settings``' agent files; with ``shared``, the key of what this
        environment's loads read besides each document's text."""
        has_certificate = settings.app_certificate is not None
        sandbox = settings.uses_sandbox
        platform_sandbox = settings.platform.strip().lower() == "sandbox"
        context, partials_differ = 0, False
        if shared is not None:
            flags = (shown_dir, has_certificate, sandbox, platform_sandbox, allow_unset)
            context = shared.context(environ, *flags, settings.environments)
            partials_differ = any(differs_by_environment(doc) for doc in partials.values())
        return cls(
            settings=settings,
            environ=environ,
            shown=shown,
            resolver=resolver,
            allow_unset=allow_unset,
            has_certificate=has_certificate,
            sandbox=sandbox,
            platform_sandbox=platform_sandbox,
            shared=shared,
            context=context,
            partials_differ=partials_differ,
        )

    def load_files(self, files: Sequence[str]) -> parallel.LoadedBatch:
        """Load ``files``: one file at a time, each file's parse tree dropped once its agents
        are built, so memory holds the agents, not every file's tree at once."""
        loaded = parallel.LoadedBatch()
        known = len(self.resolver.problems)
        agents_dir = self.settings.agents_path
        for rel in files:
            shown = self.shown[rel]
            if self.shared is None:
                parsed = read_file(agents_dir / rel, shown)
            else:
                parsed = self.shared.parsed(shown, partial(read_file, agents_dir / rel, shown))
            loaded.problems.extend(parsed.problems)
            for index, document in enumerate(parsed.documents):
                if self.shared is None:
                    one = self.load_one(document, rel)
                else:
                    one = self.load_shared(self.shared, document, rel, index)
                _add_loaded(loaded, one)
        loaded.problems.extend(self.resolver.problems[known:])
        return loaded

    def load_one(self, document: Document, rel: str) -> LoadedDocument:
        """Load one document of the file ``rel``."""
        settings = self.settings
        return load_document(
            document,
            self.shown[rel],
            self.resolver,
            self.environ,
            has_certificate=self.has_certificate,
            allow_unset=self.allow_unset,
            sandbox=self.sandbox,
            platform_sandbox=self.platform_sandbox,
            environment=settings.environment,
            declared=settings.environments,
        )

    def load_shared(
        self, shared: SharedLoads, document: Document, rel: str, index: int
    ) -> LoadedDocument:
        """Load one document, or take the load another environment made of it when it reads
        the same there; its extends problems as found then."""
        raw = document.value
        differs = differs_by_environment(raw) or (
            self.partials_differ and isinstance(raw, LineDict) and EXTENDS_KEY in raw
        )
        key = (rel, index, self.context, self.settings.environment if differs else None)
        resolver = self.resolver
        known = len(resolver.problems)
        one, extends_problems = shared.document(
            key, lambda: self.load_one(document, rel), lambda: resolver.problems[known:]
        )
        if len(resolver.problems) == known:  # loaded before: its extends problems as found then
            resolver.problems.extend(extends_problems)
        return one


def _require_agents_dir(agents_dir: Path, shown_dir: str) -> None:
    """A :class:`ValidationError` unless ``agents_dir`` is a directory: missing, not a
    directory, or unreadable (never taken as "no manifests": that would stop every agent)."""
    try:
        is_dir: bool | None = stat.S_ISDIR(os.stat(agents_dir).st_mode)
    except FileNotFoundError:
        is_dir = None
    except OSError as exc:  # never "no manifests": that would stop every agent
        problem = Problem(Location(shown_dir), _reason(exc, "cannot read agents directory"))
        raise ValidationError([problem], what=shown_dir) from None
    if not is_dir:
        missing = is_dir is None
        message = (
            "agents directory not found" if missing else "not a directory (the agents directory)"
        )
        raise ValidationError([Problem(Location(shown_dir), message)], what=shown_dir)


def _partials_and_agent_files(
    agents_dir: Path,
    relatives: Sequence[str],
    shown: Mapping[str, str],
    refused: Collection[str],
    problems: list[Problem],
) -> tuple[dict[str, LineDict | None], list[str]]:
    """The partials, read and checked (None: unusable), and the agent files to load; a
    partial's problems are added to ``problems``."""
    partials: dict[str, LineDict | None] = {}
    agent_files: list[str] = []
    for rel in relatives:
        if rel in refused:
            if is_partial(rel):
                partials[rel] = None  # unusable: manifests that extend it fail quietly
            continue
        if is_partial(rel):
            parsed = read_file(agents_dir / rel, shown[rel])
            problems.extend(parsed.problems)
            doc, partial_problems = check_partial(parsed)
            partials[rel] = doc
            problems.extend(partial_problems)
        else:
            agent_files.append(rel)
    return partials, agent_files


def _add_loaded(loaded: parallel.LoadedBatch, one: LoadedDocument) -> None:
    """Add what one document gave (its agent or resource, name, rename, problems) to
    ``loaded``."""
    loaded.problems.extend(one.problems)
    if one.agent is not None:
        loaded.agents.append(one.agent)
    if one.resource is not None:
        loaded.resources.append(one.resource)
    if one.invalid is not None:
        loaded.invalid.append(one.invalid)
    if one.name is not None and one.name_location is not None:
        loaded.names.append((one.name, one.name_location))
    if one.renamed_from is not None:
        loaded.renames.append(one.renamed_from)


def _resources_by_address(loaded: parallel.LoadedBatch) -> dict[str, list[DesiredResource]]:
    """Every resource loaded, by address (more than one: declared twice)."""
    resources: dict[str, list[DesiredResource]] = {}
    for resource in loaded.resources:
        resources.setdefault(resource.address, []).append(resource)
    return resources


def _across_files_problems(
    loaded: parallel.LoadedBatch,
    resources: Mapping[str, list[DesiredResource]],
    settings: Settings,
) -> list[Problem]:
    """What no single document shows: names, renames, uids, resources and unique values
    declared twice, and references to nothing declared."""
    names: dict[str, list[Location]] = {}
    for name, where in loaded.names:
        names.setdefault(name, []).append(where)
    problems = duplicate_names(names)
    renames: dict[str, list[Location]] = {}
    for old, where in loaded.renames:
        renames.setdefault(old, []).append(where)
    problems.extend(duplicate_renames(renames))
    problems.extend(duplicate_uids(loaded.agents))
    problems.extend(duplicate_resources(resources))
    problems.extend(duplicate_values(resources))
    problems.extend(undeclared_references(resources, settings.unmanaged, loaded.invalid))
    return problems


def tagged(problem: Problem, environment: str) -> Problem:
    """``problem`` as found in ``environment``: ``agents.d/x.yaml:12: [prod] ...`` (its excerpt
    kept)."""
    return replace(problem, message=f"[{environment}] {problem.message}")


def untagged(problem: Problem, environment: str) -> Problem:
    """``problem`` without the ``[environment]`` mark :func:`tagged` gave it (if it has one)."""
    prefix = f"[{environment}] "
    if problem.message.startswith(prefix):
        return replace(problem, message=problem.message[len(prefix) :])
    return problem


def merged_problems(
    found: Sequence[tuple[str, Sequence[Problem]]], environments: int
) -> list[Problem]:
    """The problems of several environments (``found``: each one's name and problems, of the
    ``environments`` checked) as one list: a problem found in every environment once, as is; one
    found in some only, tagged with their names (``[prod] ...``, ``[staging,prod] ...``)."""
    where: dict[Problem, list[str]] = {}
    for name, problems in found:
        for problem in problems:
            where.setdefault(untagged(problem, name), []).append(name)
    return finish(
        [
            problem if len(names) == environments else tagged(problem, ",".join(names))
            for problem, names in where.items()
        ]
    )


def _workers_from(environ: Mapping[str, str]) -> int | None:
    raw = environ.get(ENV_WORKERS, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{ENV_WORKERS} must be a whole number >= 1 (1: one process)")
    return int(raw)


def _outside(
    agents_dir: Path, relatives: list[str], shown: Mapping[str, str], shown_dir: str
) -> tuple[set[str], list[Problem]]:
    """The files whose real path lies outside the agents directory, each with a problem.

    A symbolic link under ``agents.d/`` to a file elsewhere would make that file an agent (or a
    partial) without it being in the directory a reviewer reads; such links are refused. Links
    between files of the agents directory are fine.
    """
    root = os.path.realpath(agents_dir)
    refused: set[str] = set()
    problems: list[Problem] = []
    message = (
        f"refused: a link to a file outside {shown_dir}/ (move or copy the file into {shown_dir}/)"
    )
    for rel in relatives:
        # discover() does not walk into linked directories, so a file that is not itself a
        # link lies where it was found: only links need resolving (one lstat per file).
        if not os.path.islink(agents_dir / rel):
            continue
        real = os.path.realpath(agents_dir / rel)
        if os.path.commonpath([root, real]) != root:
            refused.add(rel)
            problems.append(Problem(Location(shown[rel]), message))
    return refused, problems
