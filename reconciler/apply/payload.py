"""What apply sends to the engine's ``update``: every in-place field at once, params whole."""

from __future__ import annotations

import copy
from typing import Any

from reconciler.kinds.agent import in_place_root
from reconciler.models import ABSENT, AgentPlan, DesiredAgent, FieldPath

_TOKEN_MODE = FieldPath(("token",))
_LITERAL_TOKEN = FieldPath(("properties", "token"))


def update_properties(agent: DesiredAgent, action: AgentPlan, token: str | None) -> dict[str, Any]:
    """The ``properties`` body of an update call.

    Carries each in-place field that changed, always whole (``llm.params`` replaces the object
    set at join), plus a fresh token when one was minted.
    """
    props: dict[str, Any] = agent.spec.get("properties", {})
    body: dict[str, Any] = {}
    roots = {in_place_root(c.path) for c in action.changes}
    for root in sorted(r for r in roots if r is not None):
        if root == _LITERAL_TOKEN:
            if "token" in props:
                body["token"] = props["token"]
            continue
        if root == _TOKEN_MODE:
            continue
        # properties.<section>.<key>, e.g. properties.llm.params
        section, key = str(root[1]), str(root[2])
        value = root.get_in(agent.spec)
        body.setdefault(section, {})[key] = (
            copy.deepcopy(value)
            if value is not None and value is not ABSENT
            else ([] if key == "system_messages" else {})
        )
    if token is not None:
        body["token"] = token
    return body
