"""Hostile manifests of the Platform's kinds (SecretSet, SavedAgent, PhoneNumber) through the
CLI: every one is refused by `validate` and by `plan` with exit 1 and a message naming the file,
the line and the field, never a traceback, a hang or a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.hostile import (
    ALL_THREE,
    PHONE_NUMBER,
    SAVED_AGENT,
    SECRET_SET,
    HostileProject,
)

BOMB = "".join(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else 'a'] * 10)}]\n" for i in range(9))

CASES: dict[str, tuple[dict[str, str | bytes], str]] = {
    "a secret set's keys of the wrong type": (
        {"a.yaml": SECRET_SET.replace("keys:\n  openai: ${HARDENING_KEY}", "keys: [a, b]")},
        "agents.d/a.yaml:3: keys: expected a mapping",
    ),
    "a secret value that is not a string": (
        {"a.yaml": SECRET_SET.replace("${HARDENING_KEY}", "12")},
        "agents.d/a.yaml:4: keys.openai: expected a string",
    ),
    "a secret set's key name the Platform refuses": (
        {"a.yaml": SECRET_SET.replace("openai:", '"open ai":')},
        'agents.d/a.yaml:4: keys["open ai"]: key name: string should match pattern',
    ),
    "a secret set's key name with a dash": (
        {"a.yaml": SECRET_SET.replace("openai:", "open-ai:")},
        "agents.d/a.yaml:4: keys.open-ai: key name: string should match pattern",
    ),
    "an unknown field of a secret set": (
        {"a.yaml": SECRET_SET + "colour: red\n"},
        "agents.d/a.yaml:5: colour: extra inputs are not permitted",
    ),
    "a secret set without keys": (
        {"a.yaml": "kind: SecretSet\nname: llm_keys\n"},
        "agents.d/a.yaml:1: missing required key 'keys' in the SecretSet manifest",
    ),
    "a saved agent without a spec": (
        {"a.yaml": "kind: SavedAgent\nname: support\n"},
        "agents.d/a.yaml:1: missing required key 'spec' in the SavedAgent manifest",
    ),
    "a phone number's port of the wrong type": (
        {
            "a.yaml": ALL_THREE.replace(
                "acme.pstn.example.com", "acme.pstn.example.com\n    port: x"
            )
        },
        "agents.d/a.yaml:21: spec.sip_trunk.port: expected an integer",
    ),
    "an unknown field of a phone number's trunk": (
        {"a.yaml": ALL_THREE.replace("acme.pstn.example.com", "acme.pstn.example.com\n    pin: 1")},
        "agents.d/a.yaml:21: spec.sip_trunk.pin: extra inputs are not permitted",
    ),
    "a misspelled kind": (
        {"a.yaml": SECRET_SET.replace("SecretSet", "SecretSett")},
        "agents.d/a.yaml:1: unknown kind 'SecretSett'",
    ),
    "a reference to an undeclared saved agent": (
        {"a.yaml": PHONE_NUMBER},
        "agents.d/a.yaml:1: PhoneNumber/line references SavedAgent/support, which no manifest",
    ),
    "a secret reference to a key the set does not have": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".openai}", ".anthropic}")},
        "SecretSet/llm_keys (agents.d/a.yaml:1) has no key 'anthropic'",
    ),
    "a number answered by a secret set (a reference to the wrong kind)": (
        {"a.yaml": ALL_THREE.replace("{ref: SavedAgent/support}", "{ref: SecretSet/llm_keys}")},
        "agents.d/a.yaml:23: spec.inbound.agent.ref: must name a saved agent (SavedAgent/NAME), "
        "not SecretSet/llm_keys",
    ),
    "a number answered by itself (a reference cycle)": (
        {"a.yaml": ALL_THREE.replace("{ref: SavedAgent/support}", "{ref: PhoneNumber/line}")},
        "agents.d/a.yaml:23: spec.inbound.agent.ref: must name a saved agent",
    ),
    "one secret set declared in two files": (
        {"a.yaml": SECRET_SET, "b.yaml": SECRET_SET},
        "agents.d/a.yaml:1: duplicate SecretSet/llm_keys (also declared at agents.d/b.yaml:1)",
    ),
    "a YAML alias bomb": (
        {"a.yaml": SECRET_SET + BOMB},
        "agents.d/a.yaml:1: document too large",
    ),
    "bytes that are not UTF-8": (
        {"a.yaml": SECRET_SET.encode() + b"colour: \xff\xfe\n"},
        "agents.d/a.yaml:5: not valid UTF-8 text",
    ),
    "a name far too long": (
        {"a.yaml": SECRET_SET.replace("name: llm_keys", "name: " + "k" * 100_000)},
        "agents.d/a.yaml:2: name: string should match pattern",
    ),
}


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_platform_manifest_is_refused_with_its_file_line_and_field(
    tmp_path: Path, case: str, command: str
) -> None:
    files, expected = CASES[case]
    project = HostileProject(tmp_path / "project")
    project.write(files)
    refused = project.refused(command)
    assert expected in refused.stderr, str(refused)


def test_a_megabyte_long_line_is_refused_at_once_not_after_a_quadratic_scan(
    tmp_path: Path,
) -> None:
    # One 3 MB value on one line (under the 4 MiB a manifest may have): the excerpt of its
    # problem used to scan the line with a backtracking pattern, minutes of CPU.
    project = HostileProject(tmp_path / "project")
    huge = "v" * 3_000_000
    project.write({"a.yaml": f"kind: SecretSet\nname: llm_keys\nkeys: {{openai: {huge}}}\n"})
    refused = project.refused("validate")
    assert "agents.d/a.yaml:3: keys.openai: a secret value must come from the environment" in (
        refused.stderr
    )
    assert huge[:200] not in refused.output


def test_plan_of_a_cycle_through_saved_agents_names_every_resource_on_it(
    tmp_path: Path,
) -> None:
    # A saved agent's spec is open (the create-agent body): a {ref:} in it may close a cycle
    # with the number that references it.
    project = HostileProject(tmp_path / "project")
    project.write(
        {
            "a.yaml": ALL_THREE.replace(
                "model: gpt-4o-mini", "model: gpt-4o-mini\n    x: {ref: PhoneNumber/line}"
            )
        }
    )
    refused = project.refused("plan")
    assert "reference cycle:" in refused.stderr
    assert "PhoneNumber/line" in refused.stderr and "SavedAgent/support" in refused.stderr
