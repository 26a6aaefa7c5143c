"""Unset variables in positions that are not strings (``validate``, ``plan --no-refresh``).

``validate`` is made to run without secrets: an unset ``${VAR}`` is no problem there, its value
is unknown. That holds wherever the variable is written, not only in a string: an integer
(``idle_timeout: ${IDLE}``), a boolean, an enumerated value or a uid is known only once the
variable is set, and is then checked (``plan`` and ``apply`` refuse a value of the wrong type).
A variable where a list or a mapping is expected can never give one: that stays an error.
"""

from __future__ import annotations

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import load_desired
from reconciler.models.fieldpath import FieldPath

from .manifest_helpers import Project


def _unset_errors(project: Project) -> list[str]:
    try:
        load_desired(project.settings(), {}, allow_unset=True)
    except ValidationError as caught:
        return [str(p) for p in caught.problems]
    return []


@pytest.mark.parametrize(
    "props",
    [
        "idle_timeout: ${IDLE}\n",
        "enable_string_uid: ${STRING_UIDS}\n",
        'geofence: {area: "${AREA}"}\n',
        "rtc: {encryption_mode: '${ENCRYPTION}'}\n",
        "parameters: {silence_config: {timeout_ms: '${SILENCE_MS}', action: '${ACTION}'}}\n",
    ],
)
def test_validate_accepts_an_unset_variable_where_a_number_boolean_or_choice_goes(
    project: Project, props: str
) -> None:
    project.agent("a.yaml", "a", props=props)
    assert _unset_errors(project) == []


def test_validate_accepts_an_unset_variable_as_a_uid(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        properties:
          channel: room
          agent_rtc_uid: ${AGENT_UID}
          remote_rtc_uids: ["${USER_UID}"]
          llm: {url: https://llm.example}
          tts: {vendor: microsoft}
        """,
    )
    assert _unset_errors(project) == []


def test_an_unset_typed_value_stays_unknown_in_the_spec(project: Project) -> None:
    project.agent("a.yaml", "a", props="idle_timeout: ${IDLE}\n")
    agent = load_desired(project.settings(), {}, allow_unset=True).agents["a"]
    assert agent.spec["properties"]["idle_timeout"] == "${IDLE}"
    assert agent.unknown[FieldPath(("properties", "idle_timeout"))] == ("IDLE",)


def test_a_set_variable_of_the_wrong_type_is_still_refused(project: Project) -> None:
    project.agent("a.yaml", "a", props="idle_timeout: ${IDLE}\n")
    assert project.errors({"IDLE": "soon"}) == [
        "agents.d/a.yaml:12: properties.idle_timeout: expected an integer"
    ]


def test_an_unset_variable_where_a_mapping_goes_is_still_refused(project: Project) -> None:
    project.agent("a.yaml", "a", props="geofence: ${GEOFENCE}\n")
    assert _unset_errors(project) == ["agents.d/a.yaml:12: properties.geofence: expected a mapping"]


def test_other_problems_of_the_manifest_are_still_reported(project: Project) -> None:
    project.agent("a.yaml", "a", props="idle_timeout: ${IDLE}\nsilence_timeout: -1\n")
    assert _unset_errors(project) == [
        "agents.d/a.yaml:13: properties.silence_timeout: must be >= 0"
    ]


def test_validate_accepts_an_unset_variable_in_a_typed_field_of_a_platform_kind(
    project: Project,
) -> None:
    project.write(
        "agents.d/line.yaml",
        """\
        kind: PhoneNumber
        name: line
        spec:
          number: "+14155550100"
          sip_trunk: {name: acme, hostname: sip.example.com, port: "${PORT}", transport: "${TR}"}
          inbound: {agent: null}
        """,
    )
    assert _unset_errors(project) == []
    assert project.errors({"PORT": "x", "TR": "tls"}) == [
        "agents.d/line.yaml:5: spec.sip_trunk.port: expected an integer"
    ]
