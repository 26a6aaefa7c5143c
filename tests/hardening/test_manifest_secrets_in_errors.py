"""A secret written into a manifest by mistake is refused, and the refusal never shows it: not in
the excerpt of its own problem, nor in that of any other problem on its line, in any format and
any encoding (`tests/secret_scan.py`). In a `SecretSet` every value is a secret, whatever its
key is called."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.hostile import HostileProject
from tests.secret_scan import find_leaks

LITERAL = "literal-SECRET-in-manifest-5e2a9c"

SECRET_SETS: dict[str, str] = {
    "a block mapping": f"kind: SecretSet\nname: s\nkeys:\n  openai: {LITERAL}\n",
    "a flow mapping": f"kind: SecretSet\nname: s\nkeys: {{openai: {LITERAL}}}\n",
    "a nested mapping": f"kind: SecretSet\nname: s\nkeys:\n  a: {{b: {LITERAL}}}\n",
    "a list item": f"kind: SecretSet\nname: s\nkeys:\n  - {LITERAL}\n",
    "a block scalar": f"kind: SecretSet\nname: s\nkeys:\n  openai: |\n    {LITERAL}\n",
    "a merge key": f"kind: SecretSet\nname: s\nkeys:\n  <<: {{a: {LITERAL}}}\n  b: ${{X}}\n",
    "a duplicate key": f"kind: SecretSet\nname: s\nkeys:\n  a: ${{X}}\n  a: {LITERAL}\n",
    "a recursive alias": f"kind: SecretSet\nname: s\nkeys: &k {{a: {LITERAL}, b: *k}}\n",
    "kind written last": f"name: s\nkeys:\n  openai: {LITERAL}\nkind: SecretSet\n",
    "the second document": (
        f"kind: SecretSet\nname: t\nkeys: {{a: ${{X}}}}\n---\n"
        f"kind: SecretSet\nname: s\nkeys:\n  openai: {LITERAL}\n"
    ),
}


@pytest.mark.parametrize("case", sorted(SECRET_SETS))
def test_a_literal_secret_of_a_secret_set_is_refused_and_never_shown(
    tmp_path: Path, case: str
) -> None:
    project = HostileProject(tmp_path / "project")
    project.write({"a.yaml": SECRET_SETS[case]})
    texts = []
    for args in (["validate"], ["plan"]):
        texts.append((" ".join(args), project.refused(*args).output))
    for form in ("json", "github"):
        refused = project.refused("validate", "--format", form, machine=True)
        texts.append((f"validate --format {form}", refused.output))
    assert find_leaks(texts, {"the literal": LITERAL}, "\0") == []


def test_a_literal_secret_in_an_environment_override_is_refused_and_never_shown(
    tmp_path: Path,
) -> None:
    project = HostileProject(tmp_path / "project", environments=True)
    project.write(
        {
            "a.yaml": "kind: SecretSet\nname: s\nkeys: {openai: '${X}'}\n"
            f"overrides:\n  prod:\n    keys: {{openai: {LITERAL}}}\n"
        }
    )
    validated = project.refused("validate")
    assert "agents.d/a.yaml:6: [prod] keys.openai: a secret value must come from" in (
        validated.stderr
    )
    planned = project.refused("--env", "prod", "plan")
    assert "keys: <hidden>" in planned.stderr
    texts = [("validate", validated.output), ("plan", planned.output)]
    assert find_leaks(texts, {"the literal": LITERAL}, "\0") == []


def test_a_sip_password_written_literally_is_hidden_in_every_problem_on_its_line(
    tmp_path: Path,
) -> None:
    project = HostileProject(tmp_path / "project")
    project.write(
        {
            "a.yaml": "kind: PhoneNumber\nname: line\nspec:\n  number: '+14155550100'\n"
            "  sip_trunk: {hostname: h.example.com,"
            f" auth: {{username: u, password: [{LITERAL}]}}}}\n"
        }
    )
    refused = project.refused("validate")
    assert "agents.d/a.yaml:5: spec.sip_trunk.auth.password: expected a string" in refused.stderr
    assert find_leaks([("validate", refused.output)], {"the literal": LITERAL}, "\0") == []
