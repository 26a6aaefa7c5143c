"""Uids across manifests and token minting: two agents never share a channel and uid, and
``token: auto`` is refused where no token can be minted (a string account)."""

from __future__ import annotations

import time

from reconciler.engine.tokens import mint_agent_token
from reconciler.sandbox import accesstoken
from tests.manifests.manifest_helpers import CERTIFICATE, Project

APP_ID = "fedcba9876543210fedcba9876543210"


def agent(project: Project, file: str, name: str, channel: str, uid: str, more: str = "") -> None:
    project.write(
        f"agents.d/{file}",
        f"""\
        name: {name}
        properties:
          channel: {channel}
          agent_rtc_uid: "{uid}"
          remote_rtc_uids: ["*"]
          llm: {{url: https://llm.example}}
          tts: {{vendor: microsoft}}
        """
        + more,
    )


def test_two_agents_with_one_channel_and_uid_are_refused_naming_both_files(
    project: Project,
) -> None:
    agent(project, "sales.yaml", "sales", "shop", "7")
    agent(project, "team/support.yaml", "support", "shop", "7")
    clash = (
        "agent_rtc_uid '7' is used by another agent in channel 'shop'; two clients with one uid"
        ' clash in a channel (use another uid, or "0" for a random one)'
    )
    assert project.errors() == [
        f"agents.d/sales.yaml:4: {clash} (also at agents.d/team/support.yaml:4)",
        f"agents.d/team/support.yaml:4: {clash} (also at agents.d/sales.yaml:4)",
    ]


def test_numeric_uids_are_compared_as_numbers(project: Project) -> None:
    agent(project, "a.yaml", "a", "shop", "7")
    agent(project, "b.yaml", "b", "shop", "007")
    errors = project.errors()
    assert len(errors) == 2
    assert errors[1].startswith("agents.d/b.yaml:4: agent_rtc_uid '007' is used by another")


def test_the_same_uid_in_other_channels_is_fine(project: Project) -> None:
    agent(project, "a.yaml", "a", "shop", "7")
    agent(project, "b.yaml", "b", "desk", "7")
    assert sorted(project.load().agents) == ["a", "b"]


def test_uid_zero_asks_for_a_random_uid_so_agents_may_share_it(project: Project) -> None:
    for name in ("a", "b", "c"):
        agent(project, f"{name}.yaml", name, "shop", "0")
    assert sorted(project.load().agents) == ["a", "b", "c"]


def test_a_string_account_named_0_is_an_ordinary_account(project: Project) -> None:
    string = "  enable_string_uid: true\n"
    for name in ("a", "b"):
        project.write(
            f"agents.d/{name}.yaml",
            f'name: {name}\npreset: p\nproperties:\n  channel: shop\n  agent_rtc_uid: "0"\n'
            f'{string}  remote_rtc_uids: ["*"]\n',
        )
    errors = project.errors()
    assert [e.split(":")[0] for e in errors] == ["agents.d/a.yaml", "agents.d/b.yaml"]
    assert all("agent_rtc_uid '0' is used by another agent" in e for e in errors)


def test_one_name_used_twice_is_a_duplicate_name_not_also_a_uid_clash(project: Project) -> None:
    agent(project, "a.yaml", "same", "shop", "7")
    agent(project, "b.yaml", "same", "shop", "7")
    errors = project.errors()
    assert len(errors) == 2
    assert all("duplicate agent name 'same'" in e for e in errors)


def test_a_clash_among_many_agents_names_three_others_and_counts_the_rest(
    project: Project,
) -> None:
    for i in range(6):
        agent(project, f"a{i}.yaml", f"a{i}", "shop", "7")
    errors = project.errors()
    assert len(errors) == 6
    assert errors[0].endswith(
        "(also at agents.d/a1.yaml:4, agents.d/a2.yaml:4, agents.d/a3.yaml:4 and 2 more)"
    )
    assert errors[5].endswith(
        "(also at agents.d/a0.yaml:4, agents.d/a1.yaml:4, agents.d/a2.yaml:4 and 2 more)"
    )


def test_token_auto_with_a_string_account_is_refused_at_the_token_line(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        token: auto
        properties:
          channel: shop
          enable_string_uid: true
          agent_rtc_uid: bob
          remote_rtc_uids: ["alice"]
          llm: {url: https://llm.example}
          tts: {vendor: microsoft}
        """,
    )
    assert project.errors() == [
        "agents.d/a.yaml:2: token: auto cannot be used with a string agent_rtc_uid "
        "(enable_string_uid: true): tokens are minted for a numeric uid only; give a literal "
        "token, or use a numeric agent_rtc_uid"
    ]


def test_token_auto_in_properties_with_a_string_account_is_refused_there(
    project: Project,
) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        preset: p
        properties:
          channel: shop
          token: auto
          enable_string_uid: true
          agent_rtc_uid: bob
          remote_rtc_uids: ["alice"]
        """,
    )
    errors = project.errors()
    assert len(errors) == 1
    assert errors[0].startswith("agents.d/a.yaml:5: token: auto cannot be used with a string")


def test_a_string_account_with_a_literal_token_is_fine(project: Project) -> None:
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        token: 007eJxLiteral
        preset: p
        properties:
          channel: shop
          enable_string_uid: true
          agent_rtc_uid: bob
          remote_rtc_uids: ["alice"]
        """,
    )
    assert project.load().agents["a"].token_mode == "literal"


def test_token_auto_with_an_account_written_in_digits_is_minted_for_that_uid(
    project: Project,
) -> None:
    # The token carries the uid as its decimal text, so an account "4242" gets the same token
    # as uid 4242: validate accepts it, and minting does what it says.
    project.write(
        "agents.d/a.yaml",
        """\
        name: a
        token: auto
        preset: p
        properties:
          channel: shop
          enable_string_uid: true
          agent_rtc_uid: "4242"
          remote_rtc_uids: ["alice"]
        """,
    )
    desired = project.load(app_certificate=CERTIFICATE).agents["a"]
    assert desired.token_mode == "auto"
    now = time.time()
    token, _ = mint_agent_token(
        APP_ID, CERTIFICATE, desired.channel, desired.agent_rtc_uid, 3600, now, False
    )
    parsed = accesstoken.parse(token)
    assert parsed.signature_matches(CERTIFICATE)
    rtc = next(s for s in parsed.services if s.type == accesstoken.SERVICE_RTC)
    assert rtc.strings == ("shop", "4242")
