"""``reconciler pull``: manifests for the Platform resources that state does not record.

A team that built agents in the console moves to git in one step: :func:`pull` lists the
project's secret sets, saved agents and phone numbers, leaves out those state records, and
writes one manifest document for each:

* a secret set with a ``${SETNAME_KEY}`` placeholder per key (values are never returned);
* a saved agent with its configuration as the Platform returns it (ids and timestamps left
  out; credentials show only their ``mode``, so ``credential.fields`` must be filled in);
* a number with its trunk and route, ``inbound.agent`` as ``{ref: SavedAgent/NAME}`` when that
  agent is pulled or recorded (the SIP password is never returned: ``auth`` is left out).

Whatever the Platform does return under a secret-like key (a key typed into a stage's ``params``
in the console) is withheld like a secret set's values (:func:`withhold_secrets`): the manifest
reads it from a variable (``${AGENTNAME_TTS_PARAMS_KEY}``, named in a note) and state records it
as not verified, so it is never written, recorded or printed; the next apply sends the
variable's value. ``import`` records it the same way.

A saved agent that carries the create marker of another state (another project on this App
ID, see :func:`~reconciler.kinds.saved_agent.creator_lineage`) is that project's: it is left
out, with a note (``import`` takes it on purpose), and so is a number routed to such an agent.

:func:`record_pulled` (``--record``; the CLI asks first) records the pulled resources in state
under the lock, so the next plan updates them in place instead of creating duplicates. It runs
only once their manifests are written to a manifest file of the agents directory
(:func:`record_target_problem`): recorded without them, the next plan would delete them all.
A secret set's values are recorded as not verified: the next apply writes them from the
environment.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.diff import spec_digest
from reconciler.errors import PlanError, printable
from reconciler.kinds.phone_number import READ_ONLY as NUMBER_READ_ONLY
from reconciler.kinds.platform_api import UNVERIFIED, drop_nulls
from reconciler.kinds.saved_agent import creator_lineage, live_spec
from reconciler.manifests.dump import dump_documents
from reconciler.manifests.extends import is_partial
from reconciler.manifests.loader import MANIFEST_SUFFIXES
from reconciler.models.platform import PHONE_NUMBER, SAVED_AGENT, SECRET_SET
from reconciler.models.resources import ResourceRecord
from reconciler.models.secrets import is_secret_key
from reconciler.models.state import StateDoc
from reconciler.project.credentials import secret_values
from reconciler.project.project import Project

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Pulled:
    """What :func:`pull` found: the manifests' text and the records it would write."""

    text: str = ""
    records: list[ResourceRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def record_target_problem(out: Path | None, agents_dir: Path) -> str | None:
    """Why ``pull --record --out OUT`` must not record: the pulled manifests would not be
    manifests of the project (no ``--out``, a file outside ``agents_dir``, not ``.yaml``/``.yml``,
    a partial or a hidden file), so the next plan would delete every resource recorded."""
    why = "the next plan would delete every resource it records"
    if out is None:
        return (
            f"--record needs --out FILE in {agents_dir.name}/ (without its manifests there, {why})"
        )
    try:
        relative = out.resolve().relative_to(agents_dir.resolve()).as_posix()
    except ValueError:
        relative = None
    if (
        relative is None
        or not relative.endswith(MANIFEST_SUFFIXES)
        or is_partial(relative)
        or any(part.startswith(".") for part in relative.split("/"))
    ):
        return (
            f"--record writes the pulled manifests to {out}, which is no manifest file of "
            f"{agents_dir.name}/ (a .yaml file there, not a partial '_' or hidden '.' one): {why}"
        )
    return None


async def pull(project: Project) -> Pulled:
    """Manifests for every Platform resource state does not record, and the records
    :func:`record_pulled` would write."""
    pulling = _Pulling.of(project.store.load())
    async with project.platform.connect() as api:
        sets = await api.list_secret_sets()
        agents = await api.list_agents()
        numbers = await api.list_numbers()
    pulling.now = project.clock()
    for item in sets:
        pulling.secret_set(item)
    for item in agents:
        pulling.saved_agent(item)
    for item in numbers:
        pulling.phone_number(item)
    pulling.pulled.text = dump_documents(pulling.documents)
    return pulling.pulled


@dataclass
class _Pulling:
    """One :func:`pull` under way: what state records, and the documents, records and notes
    of what is pulled so far (in order: secret sets, saved agents, then the numbers, which
    may refer to the agents)."""

    lineage: str
    known: set[tuple[str, str]]
    """``(kind, id)`` of each resource state holds: never pulled."""
    names: dict[str, str]
    """Each saved agent's id -> its name, recorded or pulled (a number's route refers to it)."""
    taken: set[str]
    """The addresses already used: a pulled name is made unique among them."""
    theirs: set[str] = field(default_factory=set)
    """The ids of the saved agents another state created."""
    now: float = 0.0
    pulled: Pulled = field(default_factory=Pulled)
    documents: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, state: StateDoc) -> _Pulling:
        """A pull against ``state``, nothing pulled yet."""
        return cls(
            lineage=state.lineage.lower(),
            known={(r.kind, r.id) for r in state.held_resources()},
            names={r.id: r.name for r in state.resources.values() if r.kind == SAVED_AGENT},
            taken={r.address for r in state.resources.values()},
        )

    def secret_set(self, item: dict[str, Any]) -> None:
        """Pull a secret set: a ``${SETNAME_KEY}`` placeholder per key, its values recorded
        as not verified."""
        name = str(item.get("name"))
        if (SECRET_SET, name) in self.known:
            return
        keys = sorted(k for k in item.get("keys") or [] if isinstance(k, str))
        spec = {"keys": {k: f"${{{_var(name, k)}}}" for k in keys}}
        self.documents.append({"kind": SECRET_SET, "name": name, **spec})
        recorded = {"keys": dict.fromkeys(keys, UNVERIFIED)}
        self.pulled.records.append(_record(SECRET_SET, name, name, recorded, self.now))
        self.pulled.notes.append(
            f"SecretSet/{name}: export {', '.join(_var(name, k) for k in keys)} before apply"
        )

    def saved_agent(self, item: dict[str, Any]) -> None:
        """Pull a saved agent, unless another reconciler state created it; its secret-like
        values withheld."""
        agent_id = str(item.get("agent_id"))
        if (SAVED_AGENT, agent_id) in self.known:
            return
        creator = creator_lineage(item)
        if creator is not None and creator != self.lineage:
            # Made by another reconciler state (another project on this App ID): its own.
            self.theirs.add(agent_id)
            self.pulled.notes.append(
                f"SavedAgent {printable(agent_id)} ({printable(str(item.get('agent_name')))}) "
                f"was created by another reconciler state (lineage {printable(creator)}): left "
                "to it; `reconciler import SavedAgent/NAME ID` takes it on purpose"
            )
            return
        name = _unique(_slug(str(item.get("agent_name") or "agent")), SAVED_AGENT, self.taken)
        self.names[agent_id] = name
        spec, recorded_spec, variables = withhold_secrets(live_spec(item), name)
        self.documents.append({"kind": SAVED_AGENT, "name": name, "spec": spec})
        self.pulled.records.append(_record(SAVED_AGENT, name, agent_id, recorded_spec, self.now))
        _note_variables(self.pulled, f"{SAVED_AGENT}/{name}", variables)
        if any(isinstance(v, dict) and "credential" in v for v in spec.values()):
            self.pulled.notes.append(
                f"SavedAgent/{name}: credentials are never returned; add credential.fields "
                "($secrets.<set>.<key>) where the mode is byok"
            )

    def phone_number(self, item: dict[str, Any]) -> None:
        """Pull a phone number, unless it routes to another state's agent; its route to a
        pulled or recorded agent becomes a reference."""
        number_id = str(item.get("number_id"))
        if (PHONE_NUMBER, number_id) in self.known:
            return
        inbound = item.get("inbound")
        routed = inbound.get("agent") if isinstance(inbound, dict) else None
        if isinstance(routed, str) and routed in self.theirs:
            # Its calls go to another project's agent: that project's number (recorded here,
            # a removed manifest or a destroy would delete that project's line).
            self.pulled.notes.append(
                f"PhoneNumber {printable(number_id)} ({printable(str(item.get('number')))}) "
                f"routes to agent {printable(routed)}, which another reconciler state created: "
                "left to it; `reconciler import PhoneNumber/NAME ID` takes it on purpose"
            )
            return
        held = drop_nulls({k: v for k, v in item.items() if k not in NUMBER_READ_ONLY})
        label = str(held.get("description") or held.get("number") or "number")
        name = _unique(_slug(label), PHONE_NUMBER, self.taken)
        manifest_spec, body, variables = withhold_secrets(held, name)
        _note_variables(self.pulled, f"{PHONE_NUMBER}/{name}", variables)
        references = self._route_as_reference(name, manifest_spec)
        self.documents.append({"kind": PHONE_NUMBER, "name": name, "spec": manifest_spec})
        self.pulled.records.append(
            _record(PHONE_NUMBER, name, number_id, body, self.now, references)
        )

    def _route_as_reference(self, name: str, manifest_spec: dict[str, Any]) -> list[str]:
        """Write the manifest's ``inbound.agent`` (its secrets withheld) as a reference when
        that agent is pulled or recorded, else note that its id is kept; the references."""
        inbound = manifest_spec.get("inbound")
        if not isinstance(inbound, dict) or not isinstance(inbound.get("agent"), str):
            return []
        agent_name = self.names.get(inbound["agent"])
        if agent_name is None:
            self.pulled.notes.append(
                f"PhoneNumber/{name}: routes to agent {inbound['agent']}, which is neither "
                "pulled nor recorded; its id is kept as written"
            )
            return []
        manifest_spec["inbound"] = {**inbound, "agent": {"ref": f"SavedAgent/{agent_name}"}}
        return [f"SavedAgent/{agent_name}"]


def record_pulled(project: Project, pulled: Pulled) -> None:
    """Record what :func:`pull` found in state, once its manifests are in the agents directory
    (the caller holds the state lock); an address state records meanwhile is left as it is."""
    if not pulled.records:
        return
    doc = project.store.load()
    fresh = {r.address: r for r in pulled.records if r.address not in doc.resources}
    project.store.write(doc.model_copy(update={"resources": {**doc.resources, **fresh}}))


def _record(
    kind: str,
    name: str,
    ident: str,
    spec: dict[str, Any],
    now: float,
    refs: list[str] | None = None,
) -> ResourceRecord:
    return ResourceRecord(
        kind=kind,
        name=name,
        id=ident,
        spec=spec,
        spec_digest=spec_digest(spec),
        created_at=now or time.time(),
        references=refs or [],
    )


def withhold_secrets(
    spec: dict[str, Any], name: str
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``spec`` (as the Platform returned it) with every string whose key is secret-like
    (:func:`~reconciler.models.secrets.is_secret_key`: ``key``, ``api_key``, ``password``,
    ``authorization``; an item of a list under such a key too) withheld: the spec for a
    manifest, with ``${NAME_PATH}`` in its place; the spec to record, with
    :data:`~reconciler.kinds.platform_api.UNVERIFIED`; and the variables named, in order.

    The value's own key decides, not its parents': the Platform shows ``credential.mode`` and a
    trunk's ``username`` on purpose. A ``$secrets.`` reference is no secret and is kept."""
    variables: list[str] = []

    def walk(node: Any, path: tuple[str, ...], secret: bool) -> tuple[Any, Any]:
        if isinstance(node, dict):
            pairs = {k: walk(v, (*path, str(k)), is_secret_key(str(k))) for k, v in node.items()}
            return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
        if isinstance(node, list):
            items = [walk(v, (*path, str(i)), secret) for i, v in enumerate(node)]
            return [p[0] for p in items], [p[1] for p in items]
        if secret and isinstance(node, str) and node and not node.startswith("$secrets."):
            variable = _var(name, "_".join(path))
            variables.append(variable)
            return f"${{{variable}}}", copy.deepcopy(UNVERIFIED)
        return node, copy.deepcopy(node)

    manifest, recorded = walk(spec, (), False)
    return manifest, recorded, variables


def _note_variables(pulled: Pulled, address: str, variables: list[str]) -> None:
    """Tell which variables a pulled manifest reads for the values the Platform returned under
    secret-like keys (withheld, never written)."""
    if variables:
        pulled.notes.append(
            f"{address}: export {', '.join(variables)} before apply (values the Platform "
            "returned under secret-like keys are never written; the next apply sends these)"
        )


def _var(set_name: str, key: str) -> str:
    """The environment variable a pulled secret set's key reads (``LLM_KEYS_OPENAI``)."""
    return re.sub(r"[^A-Z0-9_]", "_", f"{set_name}_{key}".upper())


def _slug(text: str) -> str:
    slug = _SLUG.sub("-", text.lower()).strip("-")[:48]
    return slug or "resource"


def _unique(name: str, kind: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while f"{kind}/{candidate}" in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(f"{kind}/{candidate}")
    return candidate


@dataclass
class ImportedResource:
    """What ``reconciler import KIND/NAME ID`` recorded."""

    record: ResourceRecord
    serial: int


async def import_resource(
    project: Project, address: str, ident: str, *, lock_timeout: float = 0.0
) -> ImportedResource:
    """Record the Platform resource ``ident`` in state under ``address`` (``KIND/NAME``), which
    a manifest must declare. Nothing on the Platform changes. Refused when state records the
    address or the id already, or the Platform does not hold ``ident``. What the Platform does
    not show (secret values, credentials, SIP passwords) is recorded as unknown, so the next
    plan sends it."""
    desired = project.load_desired()
    resource = desired.resources.get(address)
    if resource is None:
        raise PlanError(f"import: no manifest in agents.d declares {address}")
    if resource.kind == SECRET_SET and ident != resource.name:
        # A set's id is its name: recorded under another, every write and every reference
        # would name a set the Platform does not hold (and the one imported would be changed
        # under a name no manifest gives it).
        raise PlanError(
            f"import: a secret set's ID is its name, so {address} can only be the set "
            f"{resource.name!r}, not {ident!r}; to manage {ident!r}, declare it as "
            f"SecretSet/{ident} and run `reconciler import SecretSet/{ident} {ident}`"
        )
    _check_importable(project.store.load(), resource.kind, address, ident)  # before any call
    kind = project.kinds.kind(resource.kind)
    async with project.platform.connect(secrets=secret_values(desired)):
        live = await kind.read(ident)
    if live is None:
        raise PlanError(f"import: the Platform holds no {resource.kind} {ident!r}")
    spec = withhold_secrets(dict(live.spec), resource.name)[1]
    if resource.kind == SECRET_SET:
        spec = {"keys": dict.fromkeys(spec.get("keys", {}), UNVERIFIED)}
    with project.lock("import", lock_timeout):
        doc = project.store.load()
        _check_importable(doc, resource.kind, address, ident)
        record = _record(
            resource.kind, resource.name, ident, spec, project.clock(),
            list(kind.references(resource.spec)),
        )  # fmt: skip
        record = record.model_copy(update={"version": live.version})
        written = project.store.write(
            doc.model_copy(update={"resources": {**doc.resources, address: record}})
        )
    return ImportedResource(record, written.serial)


def _check_importable(doc: StateDoc, kind: str, address: str, ident: str) -> None:
    """Refuse an import of an address or an id that ``doc`` records already."""
    if address in doc.resources:
        raise PlanError(f"import: state already records {address}")
    if any(r.kind == kind and r.id == ident for r in doc.held_resources()):
        raise PlanError(f"import: state already records {kind} {ident!r}")
