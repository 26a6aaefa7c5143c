"""Secret sets: create, list, retrieve, replace (PUT), update (PATCH), delete, set one key and
delete one key. A set is addressed by its name; values are write-only (never returned, and
never stored: a key keeps a salted digest and its size)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ..errors import ApiFailure
from . import checks
from .collection import DELETED, Referrers, VersionedCollection
from .context import Answer, Req
from .errors import failure, invalid, not_found
from .preconditions import check_if_match, check_if_none_match
from .rules import (
    CREATED,
    KEY_IN_USE_REASON,
    LAST_KEY_REASON,
    MAX_SECRET_SET_BYTES,
    NAME_RE,
    SECRET_VALUE_MIN_CHARS,
    UNCHANGED_WRITE_KEEPS_ETAG,
)
from .store import PlatformStore, Resource, new_etag

KIND = "secret_set"


def view(resource: Resource) -> dict[str, Any]:
    """The set as the API shows it: its name and key names, never a value."""
    return {
        "name": resource.id,
        "keys": sorted(resource.body["keys"]),
        "create_ts": int(resource.create_ts),
        "update_ts": int(resource.update_ts),
    }


SECRET_SETS = VersionedCollection(KIND, "Secret set", "name", view)
"""The shared shape: load, create, answer, list, retrieve, write, delete."""


def digest_of(store: PlatformStore, value: str) -> str:
    """The salted digest a key keeps of its value."""
    salt = store.salt().encode()
    return hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _key_entry(
    req: Req, key: str, value: Any, fields: tuple[str, str], old: dict[str, Any] | None
) -> Any:
    """The stored entry of a key set to ``value`` (``old`` when the value is unchanged);
    ``fields`` names the key and the value in error details."""
    if not NAME_RE.fullmatch(key):
        raise invalid(fields[0], "a key is 1 to 64 characters from A-Z, a-z, 0-9 and _")
    if not isinstance(value, str) or len(value) < SECRET_VALUE_MIN_CHARS:
        raise invalid(
            fields[1], f"must be a string of at least {SECRET_VALUE_MIN_CHARS} characters"
        )
    now = req.platform.now()
    value_digest = digest_of(req.platform.store, value)
    if UNCHANGED_WRITE_KEEPS_ETAG and old is not None and old["digest"] == value_digest:
        return old
    size = len(json.dumps(key).encode()) + 1 + len(json.dumps(value, ensure_ascii=False).encode())
    return {
        "digest": value_digest,
        "size": size,
        "etag": new_etag(),
        "create_ts": old["create_ts"] if old is not None else now,
        "update_ts": now,
    }


def _check_size(keys: dict[str, Any]) -> None:
    total = 2 + sum(entry["size"] for entry in keys.values()) + max(len(keys) - 1, 0)
    if total > MAX_SECRET_SET_BYTES:
        raise invalid("secrets", f"the set would hold {total} bytes; at most 64 KiB is allowed")


def _secrets(body: dict[str, Any], *, nulls: bool, fields: tuple[str, ...]) -> dict[str, Any]:
    """The ``secrets`` of a body whose fields are ``fields`` (the set's name only on create:
    a replace or update names its set in the path)."""
    secrets = body.get("secrets")
    if secrets is None:
        raise invalid("secrets", "field required")
    if not isinstance(secrets, dict):
        raise invalid("secrets", "must be an object of key names to values")
    checks.no_unknown(body, fields, "")
    if not nulls and not secrets:
        raise invalid("secrets", "a secret set needs at least one key")
    return secrets


def _refuse_removal(req: Req, name: str, removed: list[str]) -> None:
    """SecretSetInUse when an agent references one of the ``removed`` keys of set ``name``."""
    targets = [f"secret_key:{name}.{key}" for key in removed]
    users = req.platform.store.referrers(req.app_id, targets)
    if users:
        _, agent_id, target = users[0]
        key = target.partition(".")[2]
        raise failure(
            KEY_IN_USE_REASON,
            f"Key {key} of secret set {name} is referenced by agent {agent_id}. Remove the "
            "reference first.",
        )


def _save(req: Req, resource: Resource, keys: dict[str, Any], changed: bool) -> Resource:
    if not keys:
        raise failure(
            LAST_KEY_REASON,
            f"secrets: secret set {resource.id} must keep at least one key; delete the set "
            "instead.",
        )
    _check_size(keys)
    return SECRET_SETS.write(req, resource, {"keys": keys}, changed=changed)


def create(req: Req) -> Answer:
    """POST /secrets."""
    body = req.json_object()
    name = body.get("name")
    if name is None:
        raise invalid("name", "field required")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise invalid("name", "use 1 to 64 characters from A-Z, a-z, 0-9 and _")
    secrets = _secrets(body, nulls=False, fields=("name", "secrets"))
    keys = {k: _key_entry(req, k, v, ("secrets", f"secrets.{k}"), None) for k, v in secrets.items()}
    _check_size(keys)
    store = req.platform.store
    with store.store.transaction():
        if store.get(req.app_id, KIND, name) is not None:
            raise failure("SecretSetAlreadyExists", f"A secret set named {name} already exists.")
        return SECRET_SETS.create(req, {"keys": keys}, (), name)


def replace(req: Req) -> Answer:
    """PUT /secrets/{name}: the set holds exactly the keys given (If-Match required)."""
    name = req.params["name"]
    body = req.json_object()
    secrets = _secrets(body, nulls=False, fields=("secrets",))
    with req.platform.store.store.transaction():
        resource = SECRET_SETS.load_current(req, name)
        old = resource.body["keys"]
        keys = {
            k: _key_entry(req, k, v, ("secrets", f"secrets.{k}"), old.get(k))
            for k, v in secrets.items()
        }
        _refuse_removal(req, name, sorted(set(old) - set(keys)))
        return SECRET_SETS.answer(_save(req, resource, keys, keys != old))


def update(req: Req) -> Answer:
    """PATCH /secrets/{name}: a string sets a key, null removes it, omitted keys stay."""
    name = req.params["name"]
    secrets = _secrets(req.json_object(), nulls=True, fields=("secrets",))
    with req.platform.store.store.transaction():
        resource = SECRET_SETS.load_current(req, name)
        old = resource.body["keys"]
        keys = dict(old)
        removed = []
        for key, value in secrets.items():
            if value is None:
                if keys.pop(key, None) is not None:
                    removed.append(key)
            else:
                keys[key] = _key_entry(req, key, value, ("secrets", f"secrets.{key}"), old.get(key))
        _refuse_removal(req, name, removed)
        return SECRET_SETS.answer(_save(req, resource, keys, keys != old))


def delete(req: Req) -> Answer:
    """DELETE /secrets/{name} (If-Match required; refused while an agent references it)."""
    return SECRET_SETS.delete(req, _in_use)


def _in_use(resource: Resource, users: Referrers) -> ApiFailure:
    return failure(
        "SecretSetInUse",
        f"Secret set {resource.id} is referenced by agent {users[0][1]}. Remove the reference "
        "before deleting the set.",
    )


def set_key(req: Req) -> Answer:
    """PUT /secrets/{name}/keys/{key}: 201 for a new key, 200 when it replaces a value.

    ``If-Match`` is the key's ETag, ``If-None-Match: *`` creates only; the answer's ``ETag`` is
    the key's (UNCONFIRMED: the body is the set).
    """
    name, key = req.params["name"], req.params["key"]
    body = req.json_object()
    checks.no_unknown(body, ("value",), "")
    if "value" not in body:
        raise invalid("value", "field required")
    with req.platform.store.store.transaction():
        resource = SECRET_SETS.load(req, name)
        old = resource.body["keys"]
        entry = old.get(key)
        what = f"Key {key} of secret set {name}"
        check_if_none_match(req, entry is not None, what)
        check_if_match(req, entry["etag"] if entry is not None else None, what)
        new = _key_entry(req, key, body["value"], ("key", "value"), entry)
        keys = {**old, key: new}
        _save(req, resource, keys, new is not entry)
    return Answer(view(resource), CREATED if entry is None else 200, {"ETag": new["etag"]})


def delete_key(req: Req) -> Answer:
    """DELETE /secrets/{name}/keys/{key} (refused while referenced, or for the last key)."""
    name, key = req.params["name"], req.params["key"]
    with req.platform.store.store.transaction():
        resource = SECRET_SETS.load(req, name)
        old = resource.body["keys"]
        entry = old.get(key)
        if entry is None:
            raise not_found(f"Key of secret set {name}:", key)
        check_if_match(req, entry["etag"], f"Key {key} of secret set {name}")
        _refuse_removal(req, name, [key])
        keys = {k: v for k, v in old.items() if k != key}
        _save(req, resource, keys, True)
    return Answer(DELETED)
