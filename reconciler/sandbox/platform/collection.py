"""The shape every Platform resource collection shares: load by the id in the path (404 in the
API's words), mint a new resource, delete one unless something still references it; and for
the versioned kinds (secret sets, agents, numbers) answer with the resource's view and
``ETag``, list a page, retrieve.

Each resource module (``secret_sets``, ``agents``, ``numbers``, ``sessions``, ``campaigns``)
declares one :class:`Collection` (or :class:`VersionedCollection`) and keeps only its own rules
(fields, references, states).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ApiFailure
from .context import Answer, Req
from .errors import not_found
from .listing import page, page_request
from .preconditions import check_if_match
from .rules import CREATED, UNCHANGED_WRITE_KEEPS_ETAG
from .store import Resource, new_etag

DELETED = {"deleted": True}
"""The body of a successful delete."""

Referrers = list[tuple[str, str, str]]
"""``(kind, id, target)`` of each resource referencing the one being deleted."""


@dataclass(frozen=True)
class Collection:
    """One kind of Platform resource as its routes see it."""

    kind: str
    """The store's kind (``agent``, ``number``, ...)."""
    label: str
    """How the API's messages name one (``Agent``, ``Phone number``, ...)."""
    id_param: str
    """The path parameter that holds a resource's id."""

    def load(self, req: Req, ident: str | None = None) -> Resource:
        """The resource the path names (or ``ident``); 404 ``NotFound`` when there is none."""
        ident = req.params[self.id_param] if ident is None else ident
        resource = req.platform.store.get(req.app_id, self.kind, ident)
        if resource is None:
            raise not_found(self.label, ident)
        return resource

    def new(self, req: Req, body: dict[str, Any], ident: str | None = None) -> Resource:
        """A resource of this kind created now: ``ident``, or a fresh UUID, and a new ETag."""
        now = req.platform.now()
        ident = req.platform.new_uuid() if ident is None else ident
        return Resource(req.app_id, self.kind, ident, new_etag(), now, now, body)


@dataclass(frozen=True)
class VersionedCollection(Collection):
    """A kind whose resources carry an ``ETag`` and one view of their own."""

    view: Callable[[Resource], dict[str, Any]]
    """The resource as the API shows it."""

    def answer(self, resource: Resource, status: int = 200) -> Answer:
        """The resource's view with its ``ETag``."""
        return Answer(self.view(resource), status, {"ETag": resource.etag})

    def list(self, req: Req) -> Answer:
        """One page of the collection, oldest or newest first as asked."""
        request = page_request(req.platform.store, self.kind, req.query)
        return Answer(page(req.platform.store, req.app_id, request, self.view))

    def retrieve(self, req: Req) -> Answer:
        """The resource the path names."""
        return self.answer(self.load(req))

    def write(
        self,
        req: Req,
        resource: Resource,
        body: dict[str, Any],
        links: Iterable[str] | None = None,
        *,
        changed: bool | None = None,
    ) -> Resource:
        """Store ``body`` as the resource's new version (a new ETag and ``update_ts``) unless it
        changes nothing (``changed``, by default whether ``body`` differs) and
        :data:`~.rules.UNCHANGED_WRITE_KEEPS_ETAG` holds; ``links`` as the store's ``put``."""
        if changed is None:
            changed = body != resource.body
        if changed or not UNCHANGED_WRITE_KEEPS_ETAG:
            resource.body = body
            resource.etag = new_etag()
            resource.update_ts = req.platform.now()
            req.platform.store.put(resource, links)
        return resource

    def create(
        self, req: Req, body: dict[str, Any], links: Iterable[str], ident: str | None = None
    ) -> Answer:
        """Store a new resource (``ident``, or a fresh UUID) holding ``body`` and referencing
        ``links``; 201 with its view."""
        resource = self.new(req, body, ident)
        req.platform.store.put(resource, links)
        return self.answer(resource, CREATED)

    def load_current(self, req: Req, ident: str | None = None) -> Resource:
        """:meth:`load`, then the request's ``If-Match`` checked against its ETag."""
        resource = self.load(req, ident)
        check_if_match(req, resource.etag, f"{self.label} {resource.id}")
        return resource

    def delete(
        self,
        req: Req,
        in_use: Callable[[Resource, Referrers], ApiFailure],
        ident: str | None = None,
    ) -> Answer:
        """Delete the resource the path names (If-Match checked); ``in_use`` words the refusal
        while another resource references it."""
        store = req.platform.store
        with store.store.transaction():
            resource = self.load_current(req, ident)
            users = store.referrers(req.app_id, [f"{self.kind}:{resource.id}"])
            if users:
                raise in_use(resource, users)
            store.delete(req.app_id, self.kind, resource.id)
        return Answer(DELETED)
