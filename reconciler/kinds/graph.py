"""The plan as a graph: resources are nodes, references are edges.

A resource is created and updated after every resource it references and deleted before them,
so :func:`creation_order` lists what is referenced first and :func:`deletion_order` the reverse.
Among resources that do not depend on each other the order is by address, so the same
manifests always give the same plan. A cycle cannot be ordered: it is a validation error that
names every resource on it. :func:`closure` is what ``--target`` plans: the targets and
everything they reference, directly or not (over the reversed edges, for a target to delete:
everything that references it).

Edges to addresses that are not nodes (a resource not in this plan) do not order anything.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from reconciler.errors import Location, Problem, ValidationError

Edges = Mapping[str, Iterable[str]]
"""For each address, the addresses it references."""


def creation_order(edges: Edges, where: Mapping[str, Location] | None = None) -> list[str]:
    """Every node of ``edges``, each after the nodes it references (Kahn's algorithm, ties by
    address). Raises :class:`ValidationError` naming the resources of a cycle."""
    nodes = set(edges)
    needs = {n: {d for d in edges[n] if d in nodes and d != n} for n in nodes}
    self_refs = sorted(n for n in nodes if n in set(edges[n]))
    if self_refs:
        raise _cycle_error([self_refs[0], self_refs[0]], where)
    users: dict[str, list[str]] = {n: [] for n in nodes}
    for node, deps in needs.items():
        for dep in deps:
            users[dep].append(node)
    waiting = {n: len(d) for n, d in needs.items()}
    ready = [n for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for user in users[node]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) < len(nodes):
        left = {n for n in nodes if waiting[n] > 0}
        raise _cycle_error(_one_cycle(left, needs), where)
    return order


def deletion_order(edges: Edges, where: Mapping[str, Location] | None = None) -> list[str]:
    """Every node, each before the nodes it references (the reverse of :func:`creation_order`)."""
    return list(reversed(creation_order(edges, where)))


def closure(targets: Iterable[str], edges: Edges) -> set[str]:
    """``targets`` and every node they reference, directly or through others."""
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edges.get(node, ()))
    return seen


def _one_cycle(left: set[str], needs: Mapping[str, set[str]]) -> list[str]:
    """A cycle among ``left`` (nodes that never became ready), as a path that ends where it
    began, starting at its smallest address."""
    node = min(left)
    path: list[str] = []
    index: dict[str, int] = {}
    while node not in index:
        index[node] = len(path)
        path.append(node)
        node = min(d for d in needs[node] if d in left)
    cycle = path[index[node] :]
    start = cycle.index(min(cycle))
    cycle = cycle[start:] + cycle[:start]
    return [*cycle, cycle[0]]


def _cycle_error(cycle: list[str], where: Mapping[str, Location] | None) -> ValidationError:
    location = (where or {}).get(cycle[0], Location("agents.d"))
    message = "reference cycle: " + " -> ".join(cycle) + " (a resource cannot be created "
    message += "after itself; remove one of these references)"
    return ValidationError([Problem(location, message)], "the references")
