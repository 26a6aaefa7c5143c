"""Checks across manifests: what must be unique among all the agents of a project.

- An agent's **name** is its key: a name used twice is reported at every place it is used.
- Two agents must not join one **channel with one RTC uid**: the engine would start both, and on
  a real channel two clients with the same uid clash (the second one knocks the first one out).
  Each clash is reported at every agent involved, naming the others' files and lines.

  A numeric ``agent_rtc_uid`` of ``"0"`` is exempt: it asks the engine to pick a random uid for
  the agent, so any number of agents may use it in one channel without meeting. Numeric uids are
  compared as numbers (``"007"`` is uid 7). With ``enable_string_uid`` the uid is an account
  name, compared as written, and ``"0"`` is an ordinary account: not exempt.
- Across **environments on one App ID and engine** the same holds: a channel is one room of the
  App ID, so staging's agent in prod's channel with prod's uid would knock prod's agent out
  (:func:`shared_rooms`; environments on their own App IDs have rooms of their own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from reconciler.errors import Location, Problem
from reconciler.manifests.excerpt import with_excerpts
from reconciler.models.desired import DesiredAgent, DesiredSet
from reconciler.models.rules import RANDOM_UID, is_numeric_uid
from reconciler.models.settings import Settings

__all__ = ["duplicate_names", "duplicate_uids", "shared_rooms"]


def duplicate_names(names: Mapping[str, list[Location]]) -> list[Problem]:
    """A problem at every place of each name that is used more than once."""
    problems: list[Problem] = []
    for name, places in names.items():
        problems.extend(_everywhere(places, f"duplicate agent name '{name}'"))
    return problems


def _uid_key(agent: DesiredAgent) -> tuple[str, str] | None:
    """``(channel, uid)`` as the engine tells clients apart, or None for a random uid."""
    props = agent.spec.get("properties")
    if not isinstance(props, dict):
        return None
    uid = agent.agent_rtc_uid
    if props.get("enable_string_uid") is True:
        return agent.channel, "account:" + uid
    if not is_numeric_uid(uid):  # refused by validation already; nothing to compare
        return None
    if int(uid) == int(RANDOM_UID):
        return None
    return agent.channel, str(int(uid))


def duplicate_uids(agents: Iterable[DesiredAgent]) -> list[Problem]:
    """A problem at every agent that shares its channel and ``agent_rtc_uid`` with another."""
    groups: dict[tuple[str, str], list[DesiredAgent]] = {}
    for agent in agents:
        key = _uid_key(agent)
        if key is not None:
            groups.setdefault(key, []).append(agent)
    problems: list[Problem] = []
    for group in groups.values():
        if len({a.name for a in group}) < 2:  # one name twice: reported as a duplicate name
            continue
        places = [Location(a.path, a.lines.get("properties.agent_rtc_uid", a.line)) for a in group]
        messages = [
            f"agent_rtc_uid {a.agent_rtc_uid!r} is used by another agent in channel "
            f"{a.channel!r}; two clients with one uid clash in a channel (use another uid, "
            'or "0" for a random one)'
            for a in group
        ]
        problems.extend(_everywhere(places, messages))
    return problems


def shared_rooms(
    environments: Sequence[tuple[str, Settings, DesiredSet]], involving: str | None = None
) -> list[Problem]:
    """A problem at each manifest whose agent joins a channel with a uid that an agent of
    another environment on the same App ID and engine joins too (``involving``: only where
    that environment's agents are among them).

    ``environments``: each environment's name, settings and agents. A manifest seen the same
    in several environments is reported once, tagged with their names in the order the
    settings declare them.
    """
    declared = environments[0][1].environments if environments else ()
    order = {name: index for index, name in enumerate(declared)}
    environments = sorted(environments, key=lambda one: order.get(one[0], len(order)))
    rooms: dict[tuple[tuple[str, str], tuple[str, str]], list[tuple[str, DesiredAgent]]] = {}
    for name, settings, desired in environments:
        app = (settings.engine_identity, settings.app_id)
        for agent in desired.agents.values():
            key = _uid_key(agent)
            if key is not None:
                rooms.setdefault((app, key), []).append((name, agent))
    found: dict[Location, tuple[list[str], str]] = {}
    for ((engine, app_id), (channel, _uid)), members in rooms.items():
        names = list(dict.fromkeys(name for name, _agent in members))
        if len(names) < 2 or (involving is not None and involving not in names):
            continue
        for name, agent in members:
            place = Location(agent.path, agent.lines.get("properties.channel", agent.line))
            message = (
                f"channel {channel!r} with agent_rtc_uid {agent.agent_rtc_uid!r}: environments "
                f"{' and '.join(names)} share App ID {app_id} on engine {engine}, where a "
                "channel is one room: their agents would clash in it (one knocks the other "
                "out); give each environment its own App ID, or this agent another channel "
                "in one of them (overrides:)"
            )
            found.setdefault(place, ([], message))[0].append(name)
    problems = [
        Problem(place, f"[{','.join(dict.fromkeys(names))}] {message}")
        for place, (names, message) in sorted(
            found.items(), key=lambda item: (item[0].path, item[0].line)
        )
    ]
    return with_excerpts(problems, environments[0][1].project_dir) if problems else []


MAX_OTHERS_SHOWN = 3
"""Other places named in one message; the rest are counted (keeps the output linear)."""


def _everywhere(places: list[Location], message: str | list[str]) -> list[Problem]:
    """``message`` (or ``message[i]`` at ``places[i]``) at every place, naming the others."""
    if len(places) < 2:
        return []
    out: list[Problem] = []
    for index, place in enumerate(places):
        text = message if isinstance(message, str) else message[index]
        others = [
            str(other) for i, other in enumerate(places[: MAX_OTHERS_SHOWN + 1]) if i != index
        ]
        others = others[:MAX_OTHERS_SHOWN]
        more = len(places) - 1 - len(others)
        shown = ", ".join(others) + (f" and {more} more" if more else "")
        out.append(Problem(place, f"{text} (also at {shown})"))
    return out
