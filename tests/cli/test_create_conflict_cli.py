"""A create the Platform refuses because it holds the resource already (made outside this state)
fails cleanly, nothing recorded, and says how to bring it under management."""

from __future__ import annotations

from reconciler.errors import EXIT_ERROR
from tests.cli.platform_project import KEYS, Platform


def test_a_create_of_a_set_the_platform_holds_already_names_the_import_command(
    applied_platform: Platform,
) -> None:
    applied_platform.ok("state", "rm", "--force", KEYS)
    result = applied_platform.ok("apply", "--auto-approve", code=EXIT_ERROR)
    assert "SecretSetAlreadyExists" in result.stderr
    assert "another project's); if it is this project's" in result.stderr
    assert f"`reconciler import {KEYS} ID`" in result.stderr
    assert KEYS not in applied_platform.state().resources  # nothing adopted on the name alone
    applied_platform.ok("import", KEYS, "llm_keys")
    assert KEYS in applied_platform.state().resources
