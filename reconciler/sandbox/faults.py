"""Seeded, reproducible fault injection for the engine routes and the Platform routes.

Two kinds of faults:

* **Random faults**, drawn from one `random.Random(seed)`: every engine request (on the routes in
  scope) draws the same four numbers in the same order (jitter, 429, error, drop), so for a given
  seed and request sequence the n-th request always meets the same fate, whatever the rates.
  Latency (`latency_ms` plus seeded `jitter_ms`), 429 with `Retry-After` (`rate_limit`), an
  `error_status` answer (`error_rate`) and dropped connections (`drop_rate`).
* **Targeted rules**, evaluated in order after authentication: a rule matches on route, App ID,
  agent name and/or agent id, and either answers an error (any status and reason), drops the
  connection before the request is applied (`drop`), applies it and then drops the connection so
  the answer is lost (`drop_after`), or adds a delay. `times` limits how often it fires; null
  means forever. Example: `{"route": "join", "name": "x", "status": 503}` fails every join of x.
  With `"echo": true` an error's detail also quotes the request as the sandbox received it (its
  body and its `Authorization` header), as a careless server or gateway does: what a client
  must scrub from an error before showing it.

A dropped connection raises `ConnectionDropped` (a `ConnectionResetError`) inside the app after
the response has started: a real server closes the socket (the client sees a protocol or
connection error); through `httpx.ASGITransport` the client sees the exception itself.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from starlette.types import Receive, Scope, Send

from .config import ERROR_REASONS, FAULT_SETTINGS, FaultRates, SandboxConfig
from .errors import ApiFailure
from .platform.rules import OPERATIONS as PLATFORM_ROUTES

ENGINE_ROUTES = (
    "join",
    "leave",
    "update",
    "get",
    "list",
    "history",
    "turns",
    "speak",
    "interrupt",
    "think",
)
ROUTES = ENGINE_ROUTES + PLATFORM_ROUTES
"""Every route a rule or the ``routes`` scope may name: the engine's and the Platform's."""
ACTIONS = ("error", "drop", "drop_after", "delay")
DEFAULT_REASONS: dict[int, str] = {
    400: "InvalidRequestBody",
    401: "InvalidPermission",
    403: "ServiceNotEnabled",
    404: "TaskNotFound",
    409: "TaskConflict",
    422: "ConcurrencyLimitExceeded",
    # The SDK's list of reasons has none for rate limiting; this is the one it describes as
    # "too many requests, over quota".
    429: "ResourceQuotaLimitExceeded",
    **ERROR_REASONS,
}


class ConnectionDropped(ConnectionResetError):
    """Raised inside the app to make the server drop the connection."""


class DroppedResponse:
    """An ASGI response that starts, then breaks off: the client never gets an answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"64"), (b"content-type", b"application/json")],
            }
        )
        raise ConnectionDropped("sandbox fault injection: connection dropped")


@dataclass
class Rule:
    """A targeted fault."""

    id: int
    route: str = "*"
    app_id: str | None = None
    name: str | None = None
    agent_id: str | None = None
    action: str = "error"
    status: int = 503
    reason: str | None = None
    detail: str | None = None
    retry_after_s: int | None = None
    delay_ms: float = 0.0
    times: int | None = None
    echo: bool = False
    hits: int = 0

    def matches(self, route: str, app_id: str, name: str | None, agent_id: str | None) -> bool:
        """Whether this rule applies to the request (and still has firings left)."""
        if self.times is not None and self.hits >= self.times:
            return False
        return (
            self.route in ("*", route)
            and self.app_id in (None, app_id)
            and (self.name is None or self.name == name)
            and (self.agent_id is None or self.agent_id == agent_id)
        )

    def failure(self) -> ApiFailure:
        """The error answer of an `error` rule."""
        headers = {"Retry-After": str(self.retry_after_s)} if self.retry_after_s is not None else {}
        reason = self.reason or DEFAULT_REASONS.get(self.status, "InternalError")
        detail = self.detail or f"sandbox fault injection (rule {self.id})"
        return ApiFailure(self.status, reason, detail, headers)


@dataclass
class Decision:
    """What to do with one request: `pass`, `error` (with `failure`), `drop` or `drop_after`."""

    kind: str = "pass"
    delay_s: float = 0.0
    failure: ApiFailure | None = None
    source: str | None = None
    echo: bool = False
    """The error quotes the request (:func:`echoing`)."""


def echoing(failure: ApiFailure, body: bytes, authorization: str | None) -> ApiFailure:
    """``failure`` whose detail also quotes the request: its body as received and its
    ``Authorization`` header."""
    quoted = body.decode("utf-8", "replace")
    detail = f"{failure.detail}; request body: {quoted}; Authorization: {authorization or '-'}"
    return ApiFailure(failure.status, failure.reason, detail, failure.headers, failure.extra)


def _rule_from(data: dict[str, Any], rule_id: int) -> Rule:
    allowed = {f for f in Rule.__dataclass_fields__ if f not in ("id", "hits")}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown rule keys: {', '.join(sorted(unknown))}")
    rule = Rule(id=rule_id, **data)
    if rule.route != "*" and rule.route not in ROUTES:
        raise ValueError(f"route must be '*' or one of {', '.join(ROUTES)}")
    if rule.action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    if not isinstance(rule.status, int) or not 400 <= rule.status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    if not isinstance(rule.echo, bool):
        raise ValueError("echo must be true or false")
    if rule.times is not None and (not isinstance(rule.times, int) or rule.times < 1):
        raise ValueError("times must be a positive integer or null")
    if not isinstance(rule.delay_ms, (int, float)) or rule.delay_ms < 0:
        raise ValueError("delay_ms must be >= 0")
    return rule


@dataclass
class FaultInjector:
    """The fault configuration of a running sandbox and its seeded generator."""

    rates: FaultRates = field(default_factory=FaultRates)
    seed: int | None = None
    routes: list[str] | None = None
    rules: list[Rule] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _next_rule: int = 1

    @classmethod
    def from_config(cls, config: SandboxConfig) -> FaultInjector:
        """The injector a fresh sandbox starts with."""
        rates = FaultRates(**{k: getattr(config, k) for k in FAULT_SETTINGS})
        injector = cls(rates, seed=config.seed)
        injector.reseed(config.seed)
        return injector

    def reseed(self, seed: int | None) -> None:
        """Restart the random sequence (None = unseeded)."""
        self.seed = seed
        self._rng = random.Random(seed) if seed is not None else random.Random()

    def as_dict(self) -> dict[str, Any]:
        """JSON view (GET /_sandbox/faults)."""
        data = {**asdict(self.rates), "seed": self.seed, "routes": self.routes}
        data["rules"] = [asdict(rule) for rule in self.rules]
        return data

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update of the random-fault settings, `seed`, `routes` or `rules`."""
        allowed = {*FAULT_SETTINGS, "seed", "routes", "rules"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        rates = replace(self.rates, **{k: changes[k] for k in FAULT_SETTINGS if k in changes})
        seed = changes.get("seed", self.seed)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("seed must be an integer or null")
        routes = changes.get("routes", self.routes)
        if routes is not None and (
            not isinstance(routes, list) or any(r not in ROUTES for r in routes)
        ):
            raise ValueError(f"routes must be null or a list of {', '.join(ROUTES)}")
        new_rules = None
        if "rules" in changes:
            if not isinstance(changes["rules"], list):
                raise ValueError("rules must be a list")
            new_rules = [self._make_rule(r) for r in changes["rules"]]
        self.rates = rates
        self.routes = routes
        if new_rules is not None:
            self.rules = new_rules
        if "seed" in changes:
            self.reseed(seed)

    def _make_rule(self, data: Any) -> Rule:
        if not isinstance(data, dict):
            raise ValueError("a rule must be an object")
        rule = _rule_from(data, self._next_rule)
        self._next_rule += 1
        return rule

    def add_rule(self, data: Any) -> Rule:
        """Append a targeted rule; returns it (with its id)."""
        rule = self._make_rule(data)
        self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Remove every targeted rule."""
        self.rules.clear()

    def draw(self, route: str) -> Decision:
        """Random faults for one request (before authentication)."""
        if self.routes is not None and route not in self.routes:
            return Decision()
        jitter, r429, rerr, rdrop = (self._rng.random() for _ in range(4))
        delay = (self.rates.latency_ms + jitter * self.rates.jitter_ms) / 1000.0
        if r429 < self.rates.rate_limit:
            failure = ApiFailure(
                429,
                DEFAULT_REASONS[429],
                "too many requests (sandbox fault injection)",
                {"Retry-After": str(self.rates.retry_after_s)},
            )
            return Decision("error", delay, failure, "rate_limit")
        if rerr < self.rates.error_rate:
            status = self.rates.error_status
            failure = ApiFailure(
                status, DEFAULT_REASONS[status], "sandbox fault injection: server error"
            )
            return Decision("error", delay, failure, "error_rate")
        if rdrop < self.rates.drop_rate:
            return Decision("drop", delay, None, "drop_rate")
        return Decision("pass", delay)

    def match(self, route: str, app_id: str, name: str | None, agent_id: str | None) -> Decision:
        """The first targeted rule matching the request (after authentication)."""
        for rule in self.rules:
            if rule.matches(route, app_id, name, agent_id):
                rule.hits += 1
                source = f"rule:{rule.id}"
                delay = rule.delay_ms / 1000.0
                if rule.action == "error":
                    return Decision("error", delay, rule.failure(), source, rule.echo)
                if rule.action == "delay":
                    return Decision("pass", delay, None, source)
                return Decision(rule.action, delay, None, source)
        return Decision()
