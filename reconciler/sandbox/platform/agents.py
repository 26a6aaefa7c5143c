"""Saved agents: create, list, retrieve, update (JSON merge patch, If-Match) and delete.

The configuration is checked on every write (``check_config``), and every
``$secrets.<set>.<key>`` in a stage's ``credential.fields`` must name an existing key. The API
never returns credentials: a stage shows only ``credential.mode``.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import ApiFailure
from . import checks, mergepatch
from .collection import Referrers, VersionedCollection
from .context import Answer, Req
from .errors import bad_reference, failure, invalid
from .rules import (
    AGENT_NAME_MAX,
    CREDENTIAL_MODES,
    MESSAGE_ROLES,
    PIPELINE_STAGES,
    REFS_ONLY_IN_CREDENTIAL_FIELDS,
    SAVED_AGENTS_REFS_ONLY,
    SECRET_REF_RE,
    UNKNOWN_AGENT_FIELDS_KEPT,
    VARIABLE_RE,
)
from .store import Resource

KIND = "agent"
READ_ONLY = ("agent_id", "create_ts", "update_ts")


def view(resource: Resource) -> dict[str, Any]:
    """The agent as the API shows it: its configuration without credentials' fields."""
    body = copy.deepcopy(resource.body)
    for stage in PIPELINE_STAGES:
        credential = (
            body.get(stage, {}).get("credential") if isinstance(body.get(stage), dict) else None
        )
        if isinstance(credential, dict):
            body[stage]["credential"] = {"mode": credential.get("mode")}
    return {
        "agent_id": resource.id,
        **body,
        "create_ts": int(resource.create_ts),
        "update_ts": int(resource.update_ts),
    }


AGENTS = VersionedCollection(KIND, "Agent", "agent_id", view)
"""The shared shape: load, create, answer, list, retrieve, write, delete."""


def check_config(req: Req, config: dict[str, Any], *, saved: bool) -> list[str]:
    """Check an agent configuration (a saved agent's, or an ephemeral session's ``agent``);
    the links it makes to secret sets and keys."""
    prefix = "" if saved else "agent."
    if saved:
        if "agent_name" not in config:
            raise invalid("agent_name", "field required")
        checks.string(config["agent_name"], "agent_name", low=1, high=AGENT_NAME_MAX)
    elif "agent_name" in config:
        raise invalid("agent.agent_name", "an ephemeral agent has no name")
    if "instructions" in config:
        checks.string(config["instructions"], f"{prefix}instructions")
    if "messages" in config:
        for index, message in enumerate(checks.array(config["messages"], f"{prefix}messages")):
            where = f"{prefix}messages[{index}]"
            checks.obj(message, where)
            if message.get("role") not in MESSAGE_ROLES:
                raise invalid(f"{where}.role", f"must be one of {', '.join(MESSAGE_ROLES)}")
            checks.string(message.get("content"), f"{where}.content")
    if "variables" in config:
        for name, definition in checks.obj(config["variables"], f"{prefix}variables").items():
            if not VARIABLE_RE.fullmatch(name):
                raise invalid(
                    f"{prefix}variables.{name}",
                    "a variable name starts with a lowercase letter and has up to 64 lowercase "
                    "letters, digits and underscores",
                )
            checks.obj(definition, f"{prefix}variables.{name}")
    if "greeting" in config:
        greeting = checks.obj(config["greeting"], f"{prefix}greeting")
        if "text" in greeting:
            checks.string(greeting["text"], f"{prefix}greeting.text")
    if not UNKNOWN_AGENT_FIELDS_KEPT:
        known = ("agent_name", "instructions", "messages", "variables", "greeting")
        checks.no_unknown(config, (*known, *PIPELINE_STAGES), prefix)
    links: list[str] = []
    for stage in PIPELINE_STAGES:
        if stage in config:
            links += _check_stage(req, config, stage, prefix, saved=saved)
    if REFS_ONLY_IN_CREDENTIAL_FIELDS:
        for path, text in checks.strings_in(config, prefix.rstrip(".")):
            in_fields = any(
                path.startswith(f"{prefix}{stage}.credential.fields.") for stage in PIPELINE_STAGES
            )
            if not in_fields and checks.has_secret_ref(text):
                raise invalid(
                    path, "$secrets references are resolved only in a stage's credential.fields"
                )
    return links


def _check_stage(
    req: Req, config: dict[str, Any], stage: str, prefix: str, *, saved: bool
) -> list[str]:
    where = f"{prefix}{stage}"
    body = checks.obj(config[stage], where)
    for key in ("vendor", "model"):
        if key in body:
            checks.string(body[key], f"{where}.{key}", low=1)
    if "params" in body:
        checks.obj(body["params"], f"{where}.params")
    if "credential" not in body:
        return []
    credential = checks.obj(body["credential"], f"{where}.credential")
    checks.no_unknown(credential, ("mode", "fields"), f"{where}.credential.")
    mode = credential.get("mode")
    if mode not in CREDENTIAL_MODES:
        raise invalid(f"{where}.credential.mode", f"must be one of {', '.join(CREDENTIAL_MODES)}")
    fields = checks.obj(credential.get("fields", {}), f"{where}.credential.fields")
    if mode == "managed":
        if fields:
            raise invalid(f"{where}.credential.fields", "managed mode takes no provider keys")
        return []
    if not fields:
        raise invalid(f"{where}.credential.fields", "byok needs your provider keys")
    links: list[str] = []
    for name, value in fields.items():
        field = f"{where}.credential.fields.{name}"
        checks.string(value, field, low=1)
        match = SECRET_REF_RE.fullmatch(value)
        if match is None:
            if saved and SAVED_AGENTS_REFS_ONLY:
                raise invalid(
                    field, "an agent takes only $secrets.<set>.<key> references, never keys"
                )
            if checks.has_secret_ref(value):
                raise invalid(field, "a reference is the whole value: $secrets.<set>.<key>")
            continue
        set_name, key = match.group(1), match.group(2)
        secret_set = req.platform.store.get(req.app_id, "secret_set", set_name)
        if secret_set is None:
            raise bad_reference(field, f"secret set {set_name} does not exist")
        if key not in secret_set.body["keys"]:
            raise bad_reference(field, f"secret set {set_name} has no key {key}")
        links += [f"secret_set:{set_name}", f"secret_key:{set_name}.{key}"]
    return links


def _refuse_read_only(body: dict[str, Any]) -> None:
    for key in READ_ONLY:
        if key in body:
            raise invalid(key, "is read-only")


def create(req: Req) -> Answer:
    """POST /agents (201)."""
    body = req.json_object()
    _refuse_read_only(body)
    config = mergepatch.apply({}, body)
    store = req.platform.store
    with store.store.transaction():
        links = check_config(req, config, saved=True)
        return AGENTS.create(req, config, links)


def update(req: Req) -> Answer:
    """PATCH /agents/{agent_id}: a JSON merge patch (If-Match required)."""
    patch = req.json_object()
    _refuse_read_only(patch)
    store = req.platform.store
    with store.store.transaction():
        resource = AGENTS.load_current(req)
        config = mergepatch.apply(resource.body, patch)
        links = check_config(req, config, saved=True)
        AGENTS.write(req, resource, config, links)
    return AGENTS.answer(resource)


def delete(req: Req) -> Answer:
    """DELETE /agents/{agent_id}: refused while a number routes to it or an unfinished
    campaign uses it."""
    return AGENTS.delete(req, _in_use)


def _in_use(resource: Resource, users: Referrers) -> ApiFailure:
    kind, ident, _ = users[0]
    what = "phone number" if kind == "number" else "unfinished campaign"
    return failure(
        "AgentInUse",
        f"Agent {resource.id} is used by {what} {ident}. Remove the reference before "
        "deleting the agent.",
    )
