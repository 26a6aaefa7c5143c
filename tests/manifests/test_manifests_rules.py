"""The manifest rules, one by one: a failing input and the exact problem line it gives."""

from __future__ import annotations

from reconciler.models import FieldPath
from tests.manifests.manifest_helpers import CERTIFICATE, Project


def test_a_valid_manifest_loads_as_one_agent(project: Project) -> None:
    project.write(
        "agents.d/support.yaml",
        """\
        name: support
        properties:
          channel: support
          agent_rtc_uid: "1001"
          remote_rtc_uids: ["*"]
          idle_timeout: 0
          llm: {url: https://llm.example, params: {model: m}}
          tts: {vendor: microsoft, params: {region: eastus}}
        """,
    )
    desired = project.load()
    agent = desired.agents["support"]
    assert agent.path == "agents.d/support.yaml"
    assert agent.line == 1
    assert agent.token_mode == "none"
    assert agent.spec == {
        "properties": {
            "channel": "support",
            "agent_rtc_uid": "1001",
            "remote_rtc_uids": ["*"],
            "idle_timeout": 0,
            "llm": {"url": "https://llm.example", "params": {"model": "m"}},
            "tts": {"vendor": "microsoft", "params": {"region": "eastus"}},
        }
    }
    assert agent.lines["properties.idle_timeout"] == 6
    assert agent.lines["properties.llm.params.model"] == 7
    assert desired.files == ("agents.d/support.yaml",)


def test_typo_in_a_known_key_is_an_error_with_a_suggestion(project: Project) -> None:
    project.agent("x.yaml", "x", props="idle_timout: 30\n")
    assert project.errors() == [
        "agents.d/x.yaml:12: unknown key 'idle_timout' in properties, did you mean 'idle_timeout'?"
    ]


def test_unknown_keys_are_reported_at_every_depth(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        nmae: y
        properties:
          channel: c
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          llm:
            url: https://llm.example
            system_messages:
              - {role: system, contnet: hi}
          tts: {vendr: microsoft}
          turn_detection: {config: {end_of_speech: {mode: vad, vad_confg: {}}}}
          colour: blue
        """,
    )
    assert project.errors() == [
        "agents.d/x.yaml:2: unknown key 'nmae' in the manifest, did you mean 'name'?",
        "agents.d/x.yaml:10: unknown key 'contnet' in properties.llm.system_messages[0],"
        " did you mean 'content'?",
        "agents.d/x.yaml:11: unknown key 'vendr' in properties.tts, did you mean 'vendor'?",
        "agents.d/x.yaml:12: unknown key 'vad_confg' in"
        " properties.turn_detection.config.end_of_speech, did you mean 'vad_config'?",
        "agents.d/x.yaml:13: unknown key 'colour' in properties",
    ]


def test_vendor_params_pass_through_unvalidated(project: Project) -> None:
    project.agent("x.yaml", "x", props="asr: {vendor: deepgram, params: {anything: [1, {b: 2}]}}\n")
    agent = project.load().agents["x"]
    assert agent.spec["properties"]["asr"]["params"] == {"anything": [1, {"b": 2}]}


def test_strict_false_allows_unknown_keys_everywhere_and_sends_them(project: Project) -> None:
    project.agent(
        "x.yaml",
        "x",
        extra="strict: false\n",
        props="""\
        new_engine_field: {enabled: true}
        asr: {vendor: ares, new_asr_knob: 3}
        """,
    )
    props = project.load().agents["x"].spec["properties"]
    assert props["new_engine_field"] == {"enabled": True}
    assert props["asr"] == {"vendor": "ares", "new_asr_knob": 3}


def test_strict_false_still_checks_types(project: Project) -> None:
    project.agent("x.yaml", "x", extra="strict: false\n", props="idle_timeout: soon\n")
    assert project.errors() == ["agents.d/x.yaml:13: properties.idle_timeout: expected an integer"]


def test_idle_timeout_must_not_be_negative(project: Project) -> None:
    project.agent("x.yaml", "x", props="idle_timeout: -1\n")
    assert project.errors() == ["agents.d/x.yaml:12: properties.idle_timeout: must be >= 0"]


def test_uids_are_strings_and_say_to_quote_them(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          agent_rtc_uid: 1001
          remote_rtc_uids: ["1002"]
          llm: {url: u}
          tts: {vendor: v}
        """,
    )
    assert project.errors() == [
        "agents.d/x.yaml:4: properties.agent_rtc_uid: expected a string (quote the value)"
    ]


def test_non_numeric_uid_needs_enable_string_uid(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          agent_rtc_uid: support-bot
          remote_rtc_uids: ["*", "alice"]
          llm: {url: u}
          tts: {vendor: v}
        """,
    )
    assert project.errors() == [
        "agents.d/x.yaml:4: agent_rtc_uid must be a numeric uid (digits, at most 4294967295)"
        " unless enable_string_uid is true",
        'agents.d/x.yaml:5: remote_rtc_uids[1] must be a numeric uid or "*"'
        " unless enable_string_uid is true",
    ]


def test_string_uids_are_fine_with_enable_string_uid(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          enable_string_uid: true
          agent_rtc_uid: support-bot
          remote_rtc_uids: ["alice"]
          llm: {url: u}
          tts: {vendor: v}
        """,
    )
    assert project.load().agents["x"].agent_rtc_uid == "support-bot"


def test_llm_and_tts_are_required_for_a_cascaded_agent(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          asr: {vendor: ares}
        """,
    )
    assert project.errors() == [
        "agents.d/x.yaml:2: missing required key 'llm' in properties"
        " (needed unless mllm.enable is true, or preset or pipeline_id is set)",
        "agents.d/x.yaml:2: missing required key 'tts' in properties"
        " (needed unless mllm.enable is true, or preset or pipeline_id is set)",
    ]


def test_mllm_enable_makes_asr_llm_tts_optional(project: Project) -> None:
    project.write(
        "agents.d/x.yaml",
        """\
        name: x
        properties:
          channel: c
          agent_rtc_uid: "1"
          remote_rtc_uids: ["2"]
          mllm: {enable: true, vendor: openai, params: {model: gpt-4o-realtime-preview}}
        """,
    )
    assert project.load().agents["x"].spec["properties"]["mllm"]["enable"] is True


def test_preset_or_pipeline_id_make_llm_and_tts_optional(project: Project) -> None:
    for key, value in (("preset", "openai_gpt_4o_mini,openai_tts_1"), ("pipeline_id", "pl_123")):
        project.write(
            "agents.d/x.yaml",
            f"""\
            name: x
            {key}: {value}
            properties:
              channel: c
              agent_rtc_uid: "1"
              remote_rtc_uids: ["2"]
            """,
        )
        assert project.load().agents["x"].spec == {
            "properties": {"channel": "c", "agent_rtc_uid": "1", "remote_rtc_uids": ["2"]},
            key: value,
        }


def test_core_fields_are_required(project: Project) -> None:
    project.write("agents.d/x.yaml", "name: x\npreset: p\nproperties: {channel: c}\n")
    assert project.errors() == [
        "agents.d/x.yaml:3: missing required key 'agent_rtc_uid' in properties",
        "agents.d/x.yaml:3: missing required key 'remote_rtc_uids' in properties",
    ]


def test_a_document_must_be_a_mapping_with_properties(project: Project) -> None:
    project.write("agents.d/x.yaml", "- just\n- a list\n---\nname: y\n")
    assert project.errors() == [
        "agents.d/x.yaml:1: a manifest must be a mapping (name, properties, ...)",
        "agents.d/x.yaml:4: missing required key 'properties' in the manifest",
    ]


def test_names_follow_the_pattern(project: Project) -> None:
    project.agent("x.yaml", "Support_EN")
    project.agent("y.yaml", "a" * 49)
    assert project.errors() == [
        "agents.d/x.yaml:1: invalid name 'Support_EN': use 1 to 48 lowercase letters, digits"
        " and '-', starting with a letter or digit",
        f"agents.d/y.yaml:1: invalid name '{'a' * 49}': use 1 to 48 lowercase letters, digits"
        " and '-', starting with a letter or digit",
    ]


def test_a_duplicate_name_across_files_is_reported_at_both_places(project: Project) -> None:
    project.agent("a.yaml", "support")
    project.agent("team/b.yaml", "support")
    assert project.errors() == [
        "agents.d/a.yaml:1: duplicate agent name 'support' (also at agents.d/team/b.yaml:1)",
        "agents.d/team/b.yaml:1: duplicate agent name 'support' (also at agents.d/a.yaml:1)",
    ]


def test_several_documents_per_file_are_several_agents(project: Project) -> None:
    body = "properties: {channel: c, agent_rtc_uid: '%s', remote_rtc_uids: ['9']}\npreset: p\n"
    project.write("agents.d/many.yaml", f"name: one\n{body % 1}---\nname: two\n{body % 2}---\n")
    desired = project.load()
    assert list(desired.agents) == ["one", "two"]
    assert desired.agents["two"].line == 5


def test_token_auto_is_minted_later_and_absent_from_the_spec(project: Project) -> None:
    project.agent("x.yaml", "x", extra="token: auto\n")
    agent = project.load(app_certificate=CERTIFICATE).agents["x"]
    assert agent.token_mode == "auto"
    assert "token" not in agent.spec["properties"]


def test_token_auto_needs_an_app_certificate(project: Project) -> None:
    project.agent("x.yaml", "x", extra="token: auto\n")
    assert project.errors(app_certificate=None) == [
        "agents.d/x.yaml:2: token: auto needs app_certificate in the settings (reconciler.yaml)"
    ]


def test_a_literal_token_goes_to_properties_and_is_sensitive(project: Project) -> None:
    project.agent("x.yaml", "x", extra="token: 007eJxLiteral\n")
    agent = project.load().agents["x"]
    assert agent.token_mode == "literal"
    assert agent.spec["properties"]["token"] == "007eJxLiteral"
    assert FieldPath.parse("properties.token") in agent.sensitive
    assert agent.lines["properties.token"] == 2


def test_a_token_in_properties_is_literal_too(project: Project) -> None:
    project.agent("x.yaml", "x", props="token: 007eJxInProps\n")
    agent = project.load().agents["x"]
    assert (agent.token_mode, agent.spec["properties"]["token"]) == ("literal", "007eJxInProps")


def test_the_token_is_set_in_one_place_only(project: Project) -> None:
    project.agent("x.yaml", "x", extra="token: auto\n", props="token: 007eJx\n")
    assert project.errors() == [
        "agents.d/x.yaml:13: token is set both at the top level and in properties; keep one"
    ]


def test_no_token_means_mode_none(project: Project) -> None:
    project.agent("x.yaml", "x")
    agent = project.load().agents["x"]
    assert (agent.token_mode, "token" in agent.spec["properties"]) == ("none", False)


def test_values_are_coerced_to_the_declared_types(project: Project) -> None:
    project.agent("x.yaml", "x", props="idle_timeout: ${IDLE:-30}\nenable_string_uid: 'false'\n")
    props = project.load().agents["x"].spec["properties"]
    assert (props["idle_timeout"], props["enable_string_uid"]) == (30, False)


def test_an_empty_agents_directory_has_no_agents(project: Project) -> None:
    assert project.load().agents == {}


def test_a_missing_agents_directory_is_an_error(project: Project) -> None:
    assert project.errors(agents_dir="nowhere.d") == ["nowhere.d: agents directory not found"]


def test_an_agents_directory_that_is_a_file_is_an_error_saying_so(project: Project) -> None:
    project.write("file.d", "name: x\n")
    assert project.errors(agents_dir="file.d") == ["file.d: not a directory (the agents directory)"]


def test_hidden_files_and_other_suffixes_are_ignored(project: Project) -> None:
    project.write("agents.d/.draft.yaml", "not: [valid")
    project.write("agents.d/README.md", "# notes")
    project.agent("x.yml", "x")
    assert list(project.load().agents) == ["x"]
