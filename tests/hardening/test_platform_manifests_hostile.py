"""Hostile manifests of the Platform's kinds (SecretSet, SavedAgent, PhoneNumber) through the
CLI: every one is refused by `validate` and by `plan` with exit 1 and a message naming the file,
the line and the field, never a traceback, a hang or a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.hostile import (
    ALL_THREE,
    ENV,
    PHONE_NUMBER,
    SAVED_AGENT,
    SECRET_SET,
    SECRET_VALUE,
    SIP_VALUE,
    HostileProject,
)
from tests.reliability.inproc import run_cli

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
        "agents.d/a.yaml:5: unknown key 'colour' in the SecretSet manifest",
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
        "agents.d/a.yaml:21: unknown key 'pin' in spec.sip_trunk",
    ),
    "a misspelled kind": (
        {"a.yaml": SECRET_SET.replace("SecretSet", "SecretSett")},
        "agents.d/a.yaml:1: unknown kind 'SecretSett'",
    ),
    "a reference to an undeclared saved agent": (
        {"a.yaml": PHONE_NUMBER},
        "agents.d/a.yaml:9: spec.inbound.agent: PhoneNumber/line references SavedAgent/support, "
        "which no manifest declares",
    ),
    "a secret reference to a key the set does not have": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".openai}", ".anthropic}")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: SavedAgent/support references "
        "$secrets.llm_keys.anthropic: SecretSet/llm_keys (agents.d/a.yaml:1) has no key "
        "'anthropic' (its keys: openai)",
    ),
    "a secret reference to an undeclared set": (
        {"a.yaml": SAVED_AGENT},
        "agents.d/a.yaml:8: spec.llm.credential.fields.api_key: SavedAgent/support references "
        "SecretSet/llm_keys, which no manifest declares",
    ),
    "a secret reference without a key": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".openai}", "}")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: it "
        "names no key; write $secrets.<set>.<key>",
    ),
    "a secret reference of three parts": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".openai}", ".openai.v2}")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: it "
        "has more parts than a set and a key",
    ),
    "a secret reference with an empty set name": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".llm_keys.", "..")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: its "
        "set name is empty",
    ),
    "a secret reference with a set name the Platform refuses": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".llm_keys.", ".llm-keys.")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: its "
        "set name has a character other than A-Z, a-z, 0-9 and _",
    ),
    "a secret reference with a key name the Platform refuses": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".openai}", ".open-ai}")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: its "
        "key name has a character other than A-Z, a-z, 0-9 and _",
    ),
    "a secret reference with a key name longer than the Platform takes": (
        {"a.yaml": SECRET_SET + "---\n" + SAVED_AGENT.replace(".openai}", "." + "k" * 65 + "}")},
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: its "
        "key name is longer than 64 characters",
    ),
    "a secret reference with a space after it": (
        {
            "a.yaml": SECRET_SET
            + "---\n"
            + SAVED_AGENT.replace("$secrets.llm_keys.openai}", '"$secrets.llm_keys.openai "}')
        },
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference: a "
        "reference is the whole value",
    ),
    "a key in place of a saved agent's secret reference": (
        {
            "a.yaml": SECRET_SET
            + "---\n"
            + SAVED_AGENT.replace("$secrets.llm_keys.openai", '"${HARDENING_KEY}"')
        },
        "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: must be a $secrets.<set>.<key> "
        "reference: a saved agent takes no keys",
    ),
    "a malformed secret reference outside the credential": (
        {
            "a.yaml": SECRET_SET
            + "---\n"
            + SAVED_AGENT.replace("Answer briefly.", "$secrets.llm_keys")
        },
        "agents.d/a.yaml:9: spec.instructions: not a secret reference: it names no key",
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
    assert SECRET_VALUE not in refused.output and SIP_VALUE not in refused.output


def test_a_reference_to_a_refused_resource_is_not_reported_as_a_reference_to_nothing(
    tmp_path: Path,
) -> None:
    # The saved agent is declared but refused (a malformed reference): the number that it
    # answers gets no second, misleading "which no manifest declares".
    project = HostileProject(tmp_path / "project")
    project.write({"a.yaml": ALL_THREE.replace(".openai}", "}")})
    refused = project.refused("validate")
    assert "1 problem in agents.d" in refused.stderr, str(refused)
    assert "spec.llm.credential.fields.api_key: not a secret reference" in refused.stderr
    assert "no manifest declares" not in refused.stderr


def test_a_secret_reference_from_an_unset_variable_is_judged_only_once_set(
    tmp_path: Path,
) -> None:
    project = HostileProject(tmp_path / "project")
    saved_agent = SAVED_AGENT.replace("$secrets.llm_keys.openai", '"${HARDENING_REF}"')
    project.write({"a.yaml": SECRET_SET + "---\n" + saved_agent})
    unset = project.run("validate")
    assert unset.code == 0, str(unset)  # its value is unknown: validate does not guess it
    good = run_cli(
        "-C", str(project.dir), "validate", env={**ENV, "HARDENING_REF": "$secrets.llm_keys.openai"}
    )
    assert good.code == 0, str(good)
    bad = run_cli(
        "-C", str(project.dir), "validate", env={**ENV, "HARDENING_REF": "$secrets.llm_keys"}
    )
    assert bad.code == 1, str(bad)
    assert "agents.d/a.yaml:13: spec.llm.credential.fields.api_key: not a secret reference" in (
        bad.stderr
    )


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
