"""A phone number's inbound route, checked as the Platform checks it (docs/platform-api.md,
"Phone numbers"): ``validate`` refuses what apply would be refused, at the field's line."""

from __future__ import annotations

import json

import pytest

from reconciler.cli import main
from tests.manifests.manifest_helpers import Project

AGENT = "kind: SavedAgent\nname: support\nspec: {instructions: Be brief.}\n---\n"


def number(inbound: str) -> str:
    return (
        AGENT + "kind: PhoneNumber\nname: line\nspec:\n  number: '+14155550100'\n"
        "  sip_trunk: {hostname: pstn.example.com}\n" + inbound
    )


def test_a_routed_number_without_call_policy_is_refused_at_its_inbound_line(
    project: Project,
) -> None:
    project.write("agents.d/p.yaml", number("  inbound:\n    agent: {ref: SavedAgent/support}\n"))
    (problem,) = project.errors()
    assert problem.startswith("agents.d/p.yaml:10: spec.inbound: call_policy is required when ")
    assert "call_policy: {}" in problem


def test_a_routed_number_with_an_empty_call_policy_is_valid(project: Project) -> None:
    inbound = "  inbound:\n    agent: {ref: SavedAgent/support}\n    call_policy: {}\n"
    project.write("agents.d/p.yaml", number(inbound))
    assert set(project.load().resources) == {"SavedAgent/support", "PhoneNumber/line"}


def test_a_number_that_rejects_calls_needs_no_call_policy(project: Project) -> None:
    project.write("agents.d/p.yaml", number("  inbound: null\n"))
    other = number("  inbound: {agent: null}\n").replace(AGENT, "").replace("line", "l2")
    project.write("agents.d/q.yaml", other.replace("0100", "0101"))
    assert {"PhoneNumber/line", "PhoneNumber/l2"} <= set(project.load().resources)


def test_a_call_policy_limit_that_is_not_a_positive_whole_number_is_refused(
    project: Project,
) -> None:
    inbound = (
        "  inbound:\n    agent: {ref: SavedAgent/support}\n"
        "    call_policy: {max_call_duration_seconds: 0, ring_timeout_ms: 1.5, note: 0}\n"
    )
    project.write("agents.d/p.yaml", number(inbound))
    problems = project.errors()
    assert len(problems) == 1 and problems[0].startswith("agents.d/p.yaml:12: ")
    assert "max_call_duration_seconds must be a positive whole number" in problems[0]


def test_validate_reports_the_missing_call_policy_with_file_line_and_field(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECONCILER_ENGINE", raising=False)
    project.write("agents.d/p.yaml", number("  inbound:\n    agent: {ref: SavedAgent/support}\n"))
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(project.root), "validate", "--format", "json"])
    assert exited.value.code == 1
    (problem,) = json.loads(capsys.readouterr().out)["problems"]
    assert (problem["path"], problem["line"]) == ("agents.d/p.yaml", 10)
    assert problem["message"].startswith("spec.inbound: call_policy is required")


def test_two_numbers_declaring_one_e164_number_are_refused_at_each_manifest(
    project: Project,
) -> None:
    project.write("agents.d/p.yaml", number("  inbound: null\n"))
    other = number("  inbound: null\n").replace(AGENT, "").replace("name: line", "name: l2")
    project.write("agents.d/q.yaml", other)
    problems = project.errors()
    assert problems == [
        "agents.d/p.yaml:5: PhoneNumber/line: number '+14155550100' is declared by "
        "PhoneNumber/l2 (agents.d/q.yaml:1) too; the Platform holds one PhoneNumber of each "
        "number in a project",
        "agents.d/q.yaml:1: PhoneNumber/l2: number '+14155550100' is declared by "
        "PhoneNumber/line (agents.d/p.yaml:5) too; the Platform holds one PhoneNumber of each "
        "number in a project",
    ]


def test_two_numbers_with_different_e164_numbers_are_valid(project: Project) -> None:
    project.write("agents.d/p.yaml", number("  inbound: null\n"))
    other = number("  inbound: null\n").replace(AGENT, "").replace("name: line", "name: l2")
    project.write("agents.d/q.yaml", other.replace("0100", "0199"))
    assert {"PhoneNumber/line", "PhoneNumber/l2"} <= set(project.load().resources)


def trunk(fields: str) -> str:
    return number("  inbound: null\n").replace("{hostname: pstn.example.com}", fields)


@pytest.mark.parametrize(
    "hostname",
    [
        "sip:pstn.example.com",
        "pstn.example.com:5061",
        "sips://pstn.example.com",
        "u@pstn.example.com",
    ],
)
def test_a_trunk_hostname_with_a_scheme_port_or_user_is_refused_at_its_line(
    project: Project, hostname: str
) -> None:
    """The Platform refuses it (no scheme or port), and a replacement deletes the old number
    before the create that would be refused: validate refuses it first."""
    project.write("agents.d/p.yaml", trunk(f"{{hostname: '{hostname}'}}"))
    (problem,) = project.errors()
    assert problem.startswith("agents.d/p.yaml:9: spec.sip_trunk.hostname: "), problem
    assert "without a scheme or port" in problem


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ("{hostname: ''}", "spec.sip_trunk.hostname"),
        ("{hostname: pstn.example.com, name: ''}", "spec.sip_trunk.name"),
        (
            "{hostname: pstn.example.com, allowed_ips: [10.0.0.0/8, not-an-ip]}",
            "spec.sip_trunk.allowed_ips",
        ),
        (
            "{hostname: pstn.example.com, allowed_ips: ['2001:db8::/32']}",
            "spec.sip_trunk.allowed_ips",
        ),
        (
            "{hostname: pstn.example.com, auth: {username: '', password: x}}",
            "spec.sip_trunk.auth.username",
        ),
    ],
)
def test_a_trunk_field_the_platform_refuses_is_refused_at_its_line(
    project: Project, fields: str, field: str
) -> None:
    project.write("agents.d/p.yaml", trunk(fields))
    (problem,) = project.errors()
    assert problem.startswith(f"agents.d/p.yaml:9: {field}"), problem
    assert "{" not in problem.split(": ", 2)[2], problem  # a message, not a template


def test_a_trunk_of_ipv4_addresses_and_blocks_is_valid(project: Project) -> None:
    fields = "{hostname: pstn.example.com, port: 5061, allowed_ips: [192.0.2.10, 10.0.0.0/8]}"
    project.write("agents.d/p.yaml", trunk(fields))
    assert "PhoneNumber/line" in project.load().resources


def test_a_refused_trunk_value_from_the_environment_is_never_quoted(project: Project) -> None:
    """An interpolated value is sensitive: the problem names the field, never the value."""
    environ = {"TRUNK_IPS": "s3cret-not-an-ip", "TRUNK_HOST": "s3cret-host:5061"}
    fields = "{hostname: '${TRUNK_HOST}', allowed_ips: ['${TRUNK_IPS}']}"
    project.write("agents.d/p.yaml", trunk(fields))
    problems = project.errors(environ)
    assert [p.split(": ")[1] for p in problems] == [
        "spec.sip_trunk.hostname",
        "spec.sip_trunk.allowed_ips",
    ], problems
    assert not [p for p in problems if "s3cret" in p], problems
