"""Checks across manifests: what must be unique among all the agents of a project.

- An agent's **name** is its key: a name used twice is reported at every place it is used.
- An old name in ``renamed_from`` moves one record: named by two agents, it is reported at both.
- Two agents must not join one **channel with one RTC uid**: the engine would start both, and on
  a real channel two clients with the same uid clash (the second one knocks the first one out).
  Each clash is reported at every agent involved, naming the others' files and lines.

  A numeric ``agent_rtc_uid`` of ``"0"`` is exempt: it asks the engine to pick a random uid for
  the agent, so any number of agents may use it in one channel without meeting. Numeric uids are
  compared as numbers (``"007"`` is uid 7). With ``enable_string_uid`` the uid is an account
  name, compared as written, and ``"0"`` is an ordinary account: not exempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.errors import Location, Problem
from reconciler.models.desired import DesiredAgent
from reconciler.models.rules import RANDOM_UID, is_numeric_uid

__all__ = ["duplicate_names", "duplicate_renames", "duplicate_uids"]


def duplicate_names(names: Mapping[str, list[Location]]) -> list[Problem]:
    """A problem at every place of each name that is used more than once."""
    problems: list[Problem] = []
    for name, places in names.items():
        problems.extend(_everywhere(places, f"duplicate agent name '{name}'"))
    return problems


def duplicate_renames(renames: Mapping[str, list[Location]]) -> list[Problem]:
    """A problem at every ``renamed_from`` that names an old name another agent names too:
    only one agent can take the old agent's record (the plan would pick one in silence)."""
    problems: list[Problem] = []
    for old, places in renames.items():
        message = f"renamed_from '{old}': two agents cannot take the one agent's record"
        problems.extend(_everywhere(places, message))
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
