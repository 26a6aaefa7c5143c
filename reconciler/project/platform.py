"""The project's Platform kinds (``SecretSet``, ``SavedAgent``, ``PhoneNumber``), bound to the
Conversational AI Platform of its settings.

:func:`project_kinds` builds the kind registry a plan and an apply use. Its kinds call the
Platform through a :class:`PlatformSession`, which holds the client only while
:meth:`PlatformSession.connect` is open: a plan made without refresh never opens it, and the
rules the plan needs (references, replacements, drift) do not call the Platform.

``platform: sandbox`` (the default) is the in-process sandbox on the project's ``.sandbox/``
database, as for the engine; otherwise the client goes over HTTP with the settings' credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from reconciler.errors import Location, SettingsError, ValidationError
from reconciler.kinds import KindRegistry, creation_order, default_registry
from reconciler.kinds.phone_number import PhoneNumberKind
from reconciler.kinds.saved_agent import SavedAgentKind
from reconciler.kinds.secret_set import SecretSetKind
from reconciler.manifests.excerpt import with_excerpts
from reconciler.models import DesiredSet, Settings

if TYPE_CHECKING:  # the client (httpx) is imported when a command connects
    from reconciler.engine import RetryEvent
    from reconciler.engine.platform.client import PlatformClient
    from reconciler.engine.platform.wire import Versioned


class PlatformSession:
    """The Platform client of a project, open only inside :meth:`connect`; every call of the
    kinds goes through it (see :class:`reconciler.kinds.platform_api.PlatformApi`)."""

    def __init__(self, settings: Settings, *, read_only: bool) -> None:
        self.settings = settings
        self.read_only = read_only
        """Whether an embedded sandbox Platform is opened read-only (a read-only command)."""
        self._client: PlatformClient | None = None
        self.calls = 0
        """Requests answered (every attempt), for the summary and the benchmarks."""

    @asynccontextmanager
    async def connect(
        self,
        *,
        secrets: Iterable[str] = (),
        on_retry: Callable[[RetryEvent], None] | None = None,
        on_response: Callable[[str, int], None] | None = None,
        parallelism: int | None = None,
    ) -> AsyncIterator[PlatformClient]:
        """Open the client (nested use shares the open one)."""
        if self._client is not None:
            yield self._client
            return
        from reconciler.engine import RetryPolicy
        from reconciler.engine.factory import ClientOptions, build_platform_client
        from reconciler.project.connect import sandbox_transport

        transport = None
        close: Callable[[], None] = _nothing
        if self.settings.platform.strip().lower() == "sandbox":
            transport, close = sandbox_transport(self.settings, read_only=self.read_only)

        def heard(operation: str, status: int) -> None:
            self.calls += 1
            if on_response is not None:
                on_response(operation, status)

        try:
            retry = RetryPolicy(self.settings.max_attempts, on_retry=on_retry)
            options = ClientOptions(transport, None, retry, parallelism, heard)
            client = build_platform_client(self.settings, options)
            client.add_secrets(secrets)
            async with client:
                self._client = client
                try:
                    yield client
                finally:
                    self._client = None
        finally:
            close()

    @property
    def client(self) -> PlatformClient:
        if self._client is None:
            raise SettingsError("the Platform client is used outside its connection (a defect)")
        return self._client

    # The calls of PlatformApi, forwarded to the open client.

    async def create_secret_set(self, name: str, secrets: Mapping[str, str]) -> Versioned:
        return await self.client.create_secret_set(name, secrets)

    async def get_secret_set(self, name: str) -> Versioned | None:
        return await self.client.get_secret_set(name)

    async def list_secret_sets(self) -> list[dict[str, Any]]:
        return await self.client.list_secret_sets()

    async def update_secret_set(
        self, name: str, changes: Mapping[str, str | None], if_match: str | None = None
    ) -> Versioned:
        return await self.client.update_secret_set(name, changes, if_match)

    async def delete_secret_set(self, name: str, if_match: str) -> bool:
        return await self.client.delete_secret_set(name, if_match)

    async def create_agent(self, config: Mapping[str, Any]) -> Versioned:
        return await self.client.create_agent(config)

    async def get_agent(self, agent_id: str) -> Versioned | None:
        return await self.client.get_agent(agent_id)

    async def list_agents(self) -> list[dict[str, Any]]:
        return await self.client.list_agents()

    async def update_agent(
        self, agent_id: str, patch: Mapping[str, Any], if_match: str
    ) -> Versioned:
        return await self.client.update_agent(agent_id, patch, if_match)

    async def delete_agent(self, agent_id: str, if_match: str | None = None) -> bool:
        return await self.client.delete_agent(agent_id, if_match)

    async def create_number(self, spec: Mapping[str, Any]) -> Versioned:
        return await self.client.create_number(spec)

    async def get_number(self, number_id: str) -> Versioned | None:
        return await self.client.get_number(number_id)

    async def list_numbers(self) -> list[dict[str, Any]]:
        return await self.client.list_numbers()

    async def update_number(
        self, number_id: str, patch: Mapping[str, Any], if_match: str
    ) -> Versioned:
        return await self.client.update_number(number_id, patch, if_match)

    async def delete_number(self, number_id: str, if_match: str | None = None) -> bool:
        return await self.client.delete_number(number_id, if_match)


def project_kinds(session: PlatformSession) -> KindRegistry:
    """Every kind a project knows: ``Agent`` and the Platform's three, bound to ``session``."""
    return (
        default_registry()
        .with_kind(SecretSetKind(session))
        .with_kind(SavedAgentKind(session))
        .with_kind(PhoneNumberKind(session))
    )


def check_reference_cycles(desired: DesiredSet, settings: Settings) -> None:
    """Raise the :class:`~reconciler.errors.ValidationError` the plan raises for a reference
    cycle among the manifests' resources (naming every resource on it), so that ``validate``
    refuses what ``plan`` refuses; nothing is connected."""
    kinds = project_kinds(PlatformSession(settings, read_only=True))
    edges = {a: kinds.kind(r.kind).references(r.spec) for a, r in desired.resources.items()}
    where = {a: Location(r.path or "agents.d", r.line) for a, r in desired.resources.items()}
    try:
        creation_order(edges, where)
    except ValidationError as exc:  # located in the manifests: show their lines
        raise ValidationError(with_excerpts(exc.problems, settings.project_dir), exc.what) from None


def _nothing() -> None:
    return None
