"""The terminal rendering: Terraform-like symbols, summary first and last, no secrets, no noise."""

from __future__ import annotations

import re

from reconciler.models import AgentPlan, FieldChange, Plan
from reconciler.models.plan import ReasonCode
from reconciler.render import plan_summary_line, render_markdown, render_text, render_warnings
from tests.render.render_plans import (
    NEW_PROMPT,
    OLD_PROMPT,
    make_plan,
    noop,
    one_of_each,
    renew,
    restart,
    start,
    stop,
    update,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _header(text: str, name: str) -> str:
    """The symbol line of agent ``name`` in a text rendering."""
    for line in text.splitlines():
        if re.match(rf"^(   |  [+~-]|-/\+) {re.escape(name)}(\s|$)", line):
            return line
    raise AssertionError(f"no header line for {name}:\n{text}")


def _with_changes(*changes: FieldChange, action: str = "update") -> Plan:
    return make_plan(
        AgentPlan(
            name="a",
            action=action,  # type: ignore[arg-type]
            reason="why",
            reason_code=ReasonCode.UPDATED_IN_PLACE,
            agent_id="X1",
            changes=changes,
        )
    )


def test_text_starts_and_ends_with_the_summary_line() -> None:
    lines = render_text(one_of_each()).splitlines()
    expected = (
        "Plan: 1 to start, 1 to update in place, 1 to restart, 1 to stop, 1 token renewal; "
        "1 unchanged."
    )
    assert lines[0] == expected
    assert lines[-1] == expected


def test_summary_line_leaves_out_zero_counts_but_always_counts_unchanged() -> None:
    plan = make_plan(start("a"), start("b"), stop("c"))
    assert plan_summary_line(plan) == "Plan: 2 to start, 1 to stop; 0 unchanged."
    plan = make_plan(renew("a"), renew("b"), noop("c"))
    assert plan_summary_line(plan) == "Plan: 2 token renewals; 1 unchanged."


def test_text_says_no_changes_when_every_agent_is_up_to_date() -> None:
    text = render_text(make_plan(noop("a"), noop("b"), noop("c")))
    lines = text.splitlines()
    assert lines[0] == "No changes. 3 agents up to date."
    assert lines[-1] == "No changes. 3 agents up to date."
    assert "symbols" not in text
    assert plan_summary_line(make_plan(noop())) == "No changes. 1 agent up to date."
    assert plan_summary_line(make_plan()) == "No changes. 0 agents up to date."


def test_text_marks_start_with_plus() -> None:
    text = render_text(make_plan(start("support-en")))
    assert _header(text, "support-en").startswith("  + support-en")
    assert "# support-en will be started" in text
    assert "new agent" in text


def test_text_marks_stop_with_minus() -> None:
    text = render_text(make_plan(stop("legacy-fr")))
    assert _header(text, "legacy-fr").startswith("  - legacy-fr")
    assert "# legacy-fr will be stopped" in text
    assert "removed from the manifests" in text


def test_text_marks_update_and_token_renewal_with_tilde() -> None:
    text = render_text(make_plan(update("sales-de"), renew("night-shift")))
    assert _header(text, "sales-de").startswith("  ~ sales-de")
    assert _header(text, "night-shift").startswith("  ~ night-shift")
    assert "will have its token renewed in place" in text
    assert "token expires in 1h12m" in text


def test_text_marks_restart_with_minus_slash_plus_and_counts_it_once() -> None:
    text = render_text(make_plan(restart("billing")))
    assert _header(text, "billing").startswith("-/+ billing")
    assert text.splitlines()[0] == "Plan: 1 to restart; 0 unchanged."
    assert "to start" not in text
    assert "to stop" not in text
    assert text.count("\n-/+ billing") == 1


def test_text_skips_unchanged_agents_but_counts_them() -> None:
    text = render_text(make_plan(start("a"), noop("kiosk"), noop("lobby")))
    assert "kiosk" not in text
    assert "lobby" not in text
    assert text.splitlines()[0] == "Plan: 1 to start; 2 unchanged."


def test_text_shows_the_reason_agent_id_and_channel_of_each_changed_agent() -> None:
    text = render_text(make_plan(restart("billing")))
    assert "changes force a restart: properties.asr.language" in text
    assert "agent_id=AGENTRST01" in _header(text, "billing")
    assert "channel=billing" in _header(text, "billing")


def test_text_names_the_exited_agent_a_start_replaces() -> None:
    agent = AgentPlan(
        name="a",
        action="start",
        reason="exited: idle timeout",
        reason_code=ReasonCode.EXITED_IDLE,
        agent_id="OLD1",
        channel="c",
    )
    text = render_text(make_plan(agent))
    assert "previous agent_id=OLD1" in _header(text, "a")
    assert "exited: idle timeout" in text


def test_text_marks_each_change_in_place_or_forcing_restart() -> None:
    text = render_text(make_plan(restart("billing")))
    assert '      ~ properties.asr.language = "en-US" -> "de-DE"  # forces restart' in text
    assert "      + properties.llm.params.temperature = 0.2  (in place)" in text


def test_text_shows_only_changed_fields_with_add_remove_and_change_signs() -> None:
    text = render_text(
        _with_changes(
            FieldChange(path="properties.asr.vendor", before_present=False, after="deepgram"),
            FieldChange(path="properties.idle_timeout", before=30, after_present=False),
            FieldChange(path="properties.llm.params", before={"model": "a"}, after={"model": "b"}),
        )
    )
    assert '+ properties.asr.vendor = "deepgram"' in text
    assert "- properties.idle_timeout = 30" in text
    assert '~ properties.llm.params = {"model": "a"} -> {"model": "b"}' in text
    assert len([x for x in text.splitlines() if x.startswith("      ")]) == 3


def test_text_shows_sensitive_values_only_as_sensitive_markers() -> None:
    text = render_text(
        _with_changes(
            FieldChange(path="properties.llm.api_key", sensitive=True),
            FieldChange(path="properties.tts.params.key", before_present=False, sensitive=True),
            FieldChange(path="properties.asr.params.key", after_present=False, sensitive=True),
        )
    )
    assert "~ properties.llm.api_key = (sensitive, changed)  (in place)" in text
    assert "+ properties.tts.params.key = (sensitive)" in text
    assert "- properties.asr.params.key = (sensitive)" in text
    assert "null" not in text
    assert "None" not in text


def test_text_never_shows_a_value_carrying_a_redaction_marker() -> None:
    marker = {"$sensitive": "sha256:" + "cd" * 32}
    text = render_text(
        _with_changes(FieldChange(path="properties.llm.api_key", before=marker, after="sk-live"))
    )
    assert "(sensitive, changed)" in text
    assert "sk-live" not in text
    assert "cdcd" not in text


def test_text_shows_a_multiline_prompt_as_a_unified_line_diff() -> None:
    text = render_text(make_plan(update("sales-de")))
    lines = text.splitlines()
    head = lines.index("      ~ properties.llm.system_messages[0].content  (in place)")
    assert lines[head + 1 : head + 6] == [
        "          @@ -1,3 +1,3 @@",
        "           You are the support agent for Acme.",
        "          -Be terse.",
        "          +Be warm and helpful.",
        "           Never promise refunds.",
    ]
    assert OLD_PROMPT not in text
    assert NEW_PROMPT not in text


def test_text_diffs_a_replaced_message_list_holding_a_prompt_line_by_line() -> None:
    before = [{"role": "system", "content": "Line one.\nLine two."}]
    after = [*before, {"role": "system", "content": "Extra rule.\nAnother."}]
    text = render_text(
        _with_changes(
            FieldChange(path="properties.llm.system_messages", before=before, after=after)
        )
    )
    assert "+- content: |" in text
    assert "+    Extra rule." in text
    assert "Line one.\\n" not in text


def test_text_shows_a_prompt_added_from_nothing_as_added_lines() -> None:
    text = render_text(_with_changes(FieldChange(path="p", before_present=False, after="one\ntwo")))
    assert "      + p  (in place)" in text
    assert "          +one" in text
    assert "          +two" in text


def test_text_clips_a_long_single_line_value_around_the_difference() -> None:
    before = "x" * 500 + "OLD" + "y" * 500
    after = "x" * 500 + "NEW" + "y" * 500
    text = render_text(_with_changes(FieldChange(path="p", before=before, after=after)))
    line = next(x for x in text.splitlines() if x.lstrip().startswith("~ p ="))
    assert "OLD" in line
    assert "NEW" in line
    assert len(line) < 400
    assert "(1,005 chars)" in line


def test_text_has_no_ansi_codes_unless_colour_is_asked() -> None:
    plan = one_of_each()
    assert not ANSI.search(render_text(plan))
    assert not ANSI.search(render_text(plan, color=False))


def test_text_colours_symbols_when_asked() -> None:
    coloured = render_text(one_of_each(), color=True)
    assert "\x1b[32m+\x1b[0m" in coloured  # green start
    assert "\x1b[31m-\x1b[0m" in coloured  # red stop
    assert "\x1b[33m~\x1b[0m" in coloured  # yellow update
    assert "\x1b[35m-/+\x1b[0m" in coloured  # magenta restart
    assert ANSI.sub("", coloured) == render_text(one_of_each())


def test_text_notes_whether_the_engine_was_refreshed() -> None:
    assert "Engine status refreshed" in render_text(make_plan(start(), refreshed=True))
    text = render_text(make_plan(start(), refreshed=False))
    assert "Engine status not refreshed" in text
    assert "not detected" in text


def test_text_notes_a_targeted_or_destroy_plan() -> None:
    plan = make_plan(stop("a")).model_copy(update={"targets": ("a",), "destroy": True})
    text = render_text(plan)
    assert "Destroy plan" in text
    assert "Targeted plan: only a considered" in text


def test_text_keeps_warnings_out_and_render_warnings_returns_them() -> None:
    warning = "unmanaged agent Z9 in channel x is RUNNING (not in state)"
    plan = make_plan(start(), warnings=(warning,))
    assert "unmanaged" not in render_text(plan)
    assert render_warnings(plan) == [
        "Warning: unmanaged agent Z9 in channel x is RUNNING (not in state)"
    ]
    assert render_warnings(make_plan(start())) == []


def test_text_lists_agents_in_plan_order() -> None:
    text = render_text(one_of_each())
    order = ("billing", "legacy-fr", "night-shift", "sales-de", "support-en")
    positions = [text.index(f"  # {name} ") for name in order]
    assert positions == sorted(positions)


def test_text_is_deterministic() -> None:
    assert render_text(one_of_each()).encode() == render_text(one_of_each()).encode()
    assert render_text(one_of_each(), color=True) == render_text(one_of_each(), color=True)


def test_text_and_markdown_leave_the_final_newline_to_the_caller() -> None:
    assert not render_text(one_of_each()).endswith("\n")
    assert not render_markdown(one_of_each()).endswith("\n")


def test_text_escapes_control_characters_in_reasons() -> None:
    agent = AgentPlan(
        name="a",
        action="start",
        reason="failed: \x1b[2Jboom\nnext",
        reason_code=ReasonCode.FAILED,
        agent_id="X",
    )
    text = render_text(make_plan(agent))
    assert "\x1b" not in text
    assert "#   failed: \\x1b[2Jboom\\nnext" in text


def test_text_plan_names_the_engine_and_app_under_its_summary() -> None:
    from tests.render.render_plans import one_of_each

    plan = one_of_each().model_copy(update={"engine": "us"})
    assert render_text(plan).splitlines()[2] == ("Engine: us, app 0123456789abcdef0123456789abcdef")


def test_a_targeted_destroy_does_not_say_every_recorded_agent_is_stopped() -> None:
    destroy = make_plan(stop("a1")).model_copy(update={"destroy": True, "targets": ("a1",)})
    text = render_text(destroy)
    assert "every recorded agent is stopped" not in text
    assert "Destroy plan: every recorded agent considered is stopped." in text
    assert "Targeted plan: only a1 considered" in text
    whole = make_plan(stop("a1")).model_copy(update={"destroy": True})
    assert "Destroy plan: every recorded agent is stopped." in render_text(whole)


def test_a_destroy_with_exclusions_does_not_say_every_recorded_agent_is_stopped() -> None:
    destroy = make_plan(stop("a1")).model_copy(update={"destroy": True, "excluded": ("a2",)})
    text = render_text(destroy)
    assert "every recorded agent is stopped" not in text
    assert "Excluded: a2 (--exclude)" in text
