"""The grammar of a ``$secrets.<set>.<key>`` reference: the Platform's, and what is wrong with a
string that is not one (named without echoing it)."""

from __future__ import annotations

import re

import pytest

from reconciler.models.platform import SecretSetManifest
from reconciler.models.secretref import (
    SECRET_NAME_PATTERN,
    looks_like_secret_reference,
    parse_secret_reference,
    secret_reference_problem,
)
from reconciler.sandbox.platform.rules import NAME_RE, SECRET_REF_RE

SAMPLES = [
    "$secrets.llm_keys.openai",
    "$secrets.A.b_9",
    "$secrets." + "s" * 64 + "." + "k" * 64,
    "$secrets." + "s" * 65 + ".k",
    "$secrets.llm_keys",
    "$secrets.llm_keys.",
    "$secrets..openai",
    "$secrets.a.b.c",
    "$secrets.llm-keys.openai",
    "$secrets.llm_keys.open ai",
    "$secrets.llm_keys.ключ",
    " $secrets.a.b",
    "$secrets.",
    "$secrets",
]


@pytest.mark.parametrize("value", SAMPLES)
def test_a_reference_is_well_formed_exactly_when_the_platform_takes_it(value: str) -> None:
    platform = SECRET_REF_RE.fullmatch(value)
    assert (parse_secret_reference(value) is not None) == (platform is not None)
    assert (secret_reference_problem(value) is None) == (platform is not None)


def test_set_and_key_names_follow_the_platforms_rule() -> None:
    for name in ("a", "A_1", "x" * 64, "x" * 65, "a-b", "a.b", ""):
        ours = re.fullmatch(SECRET_NAME_PATTERN, name) is not None
        assert ours == (NAME_RE.fullmatch(name) is not None), name
    assert SecretSetManifest.model_fields["name"].metadata[0].pattern == SECRET_NAME_PATTERN


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("$secrets.llm_keys", "it names no key"),
        ("$secrets.", "it names neither a set nor a key"),
        ("$secrets", "it names neither a set nor a key"),
        ("$secrets.a.b.c", "it has more parts than a set and a key (names take no '.')"),
        ("$secrets..b", "its set name is empty"),
        ("$secrets.a.", "its key name is empty"),
        ("$secrets." + "s" * 65 + ".k", "its set name is longer than 64 characters"),
        ("$secrets.a.b-c", "its key name has a character other than A-Z, a-z, 0-9 and _"),
        ("$secrets.a.b ", "a reference is the whole value, without spaces around it"),
    ],
)
def test_what_is_wrong_with_a_malformed_reference_is_named_without_echoing_it(
    value: str, reason: str
) -> None:
    assert secret_reference_problem(value) == reason
    assert looks_like_secret_reference(value)


def test_only_strings_that_start_with_secrets_are_meant_as_references() -> None:
    assert not looks_like_secret_reference("$secretsauce")
    assert not looks_like_secret_reference("sk-live-abc")
    assert not looks_like_secret_reference("use $secrets.a.b here")
