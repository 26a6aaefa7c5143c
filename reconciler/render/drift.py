"""Renderers of a :class:`~reconciler.models.drift.DriftReport`: text, markdown and JSON.

- :func:`render_drift_text`: the terminal report, unexpected drift first;
- :func:`render_drift_markdown`: a GitHub issue body or step summary (a table per kind of drift);
- :func:`render_drift_json`: the versioned document described in ``docs/drift-format.md``
  (:data:`DRIFT_FORMAT_VERSION`; additive changes keep the major version).

Platform resources are shown only when the state records some (or one is unmanaged in use): a
report of agents only renders exactly as before.

Pure functions returning strings or dicts; nothing prints.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import printable
from reconciler.models.drift import DriftItem, DriftReport, ResourceDriftItem
from reconciler.render.json_format import iso_utc
from reconciler.render.jsontext import dumps
from reconciler.render.resources import drift_json, drift_lines

DRIFT_FORMAT_VERSION = "1.0"
"""``major.minor`` of the JSON drift schema."""


def drift_summary_line(report: DriftReport) -> str:
    """One line: ``Drift: 2 unexpected, 1 expected; 3 of 6 recorded agents in sync.``; with
    Platform resources, ``...; 2 of 3 recorded resources in sync with the Platform.``"""
    resources = _has_resources(report)
    if not report.items and not report.resources:
        line = f"No drift: {_count(report.in_sync, 'recorded agent')} in sync with the engine"
        if resources:
            line += f", {_count(report.resources_in_sync, 'recorded resource')} with the Platform"
        return line + "."
    unexpected = len(report.unexpected) + len(report.unexpected_resources)
    expected = len(report.expected) + len(report.expected_resources)
    line = (
        f"Drift: {unexpected} unexpected, {expected} expected; "
        f"{report.in_sync} of {_count(report.recorded, 'recorded agent')} in sync"
    )
    if resources:
        line += (
            f", {report.resources_in_sync} of "
            f"{_count(report.resources_recorded, 'recorded resource')} with the Platform"
        )
    return line + "."


def _has_resources(report: DriftReport) -> bool:
    return bool(report.resources_recorded or report.resources)


def render_drift_text(report: DriftReport) -> str:
    """The report for a terminal: a header, unexpected then expected items, the summary."""
    header = f"Drift of app {report.app_id or '(unset)'} on {report.engine or '(unset)'}"
    if report.platform:
        header += f" and Platform {report.platform}"
    if report.environment:
        header = f"Drift of environment {report.environment}: {header[len('Drift of ') :]}"
    lines = [printable(header)]
    for title, items, resources in (
        ("Unexpected drift", report.unexpected, report.unexpected_resources),
        ("Expected drift", report.expected, report.expected_resources),
    ):
        if not items and not resources:
            continue
        lines += ["", f"{title} ({len(items) + len(resources)}):"]
        for item in items:
            sign = "!" if not item.expected else "~"
            subject = printable(f"{_subject(item)} [{drift_label(item)}]: {item.reason}")
            lines.append(f"  {sign} {subject}")
            lines.append(f"      {printable(item.why)}")
        for resource in resources:
            sign = "!" if not resource.expected else "~"
            subject = f"{_resource_subject(resource)} [{resource.kind}]: {resource.reason}"
            lines.append(f"  {sign} {printable(subject)}")
            lines.extend(f"      {printable(line)}" for line in drift_lines(resource.changes))
            lines.append(f"      {printable(resource.why)}")
    lines += ["", drift_summary_line(report)]
    if report.journal_entries:
        lines.append(_journal_note(report.journal_entries))
    return "\n".join(lines)


def render_drift_markdown(report: DriftReport) -> str:
    """The report as GitHub-flavoured markdown (an issue body or a job's step summary)."""
    title = "Unexpected drift" if report.has_unexpected else "No unexpected drift"
    platform = f", Platform: `{_cell(report.platform)}`" if report.platform else ""
    out = [
        f"## {title} in "
        + (f"environment `{report.environment}`, " if report.environment else "")
        + f"app `{report.app_id or '(unset)'}`",
        "",
        f"{drift_summary_line(report)} Engine: `{report.engine or '(unset)'}`{platform}, "
        f"checked {iso_utc(report.checked_at)}.",
    ]
    for heading, items in (
        ("Unexpected", report.unexpected),
        ("Expected", report.expected),
    ):
        if not items:
            continue
        out += [
            "",
            f"### {heading} ({len(items)})",
            "",
            "| agent | agent id | channel | drift | details | next apply |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            "| "
            + " | ".join(
                _cell(value)
                for value in (
                    item.name or "(unmanaged)",
                    item.agent_id,
                    item.channel or "",
                    drift_label(item),
                    item.reason,
                    item.why,
                )
            )
            + " |"
            for item in items
        ]
    for heading, resources in (
        ("Unexpected, Platform resources", report.unexpected_resources),
        ("Expected, Platform resources", report.expected_resources),
    ):
        if not resources:
            continue
        out += [
            "",
            f"### {heading} ({len(resources)})",
            "",
            "| resource | id | drift | details | next apply |",
            "|---|---|---|---|---|",
        ]
        out += [
            "| "
            + " | ".join(
                _cell(value)
                for value in (
                    _resource_subject(item),
                    item.id,
                    item.kind,
                    "; ".join(drift_lines(item.changes)) or item.reason,
                    item.why,
                )
            )
            + " |"
            for item in resources
        ]
    if report.journal_entries:
        out += ["", _journal_note(report.journal_entries)]
    return "\n".join(out) + "\n"


def render_drift_json(report: DriftReport) -> dict[str, Any]:
    """The report as a JSON-ready dict, keys in a fixed order, items in report order."""
    return {
        "format_version": DRIFT_FORMAT_VERSION,
        "app_id": report.app_id,
        "engine": report.engine,
        **({"environment": report.environment} if report.environment else {}),
        "lineage": report.lineage,
        "serial": report.serial,
        "checked_at": iso_utc(report.checked_at),
        "has_unexpected": report.has_unexpected,
        "summary": {
            "recorded": report.recorded,
            "in_sync": report.in_sync,
            "expected": len(report.expected),
            "unexpected": len(report.unexpected),
            "pending": report.journal_entries,
        },
        "items": [_item(item) for item in report.items],
        **({"resources": _resources_json(report)} if _has_resources(report) else {}),
    }


def _resources_json(report: DriftReport) -> dict[str, Any]:
    """The Platform's part of the JSON report (present only when it has one)."""
    return {
        "platform": report.platform,
        "recorded": report.resources_recorded,
        "in_sync": report.resources_in_sync,
        "expected": len(report.expected_resources),
        "unexpected": len(report.unexpected_resources),
        "items": [_resource_item(item) for item in report.resources],
    }


def _resource_item(item: ResourceDriftItem) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "resource_kind": item.resource_kind,
        "name": item.name,
        "address": None if item.name is None else item.address,
        "id": item.id,
        "reason": item.reason,
        "expected": item.expected,
        "why": item.why,
        "changes": drift_json(item.changes),
        "uses": list(item.uses),
    }


def _resource_subject(item: ResourceDriftItem) -> str:
    if item.name is None:
        return f"unmanaged {item.address}"
    return f"{item.address} ({item.id})"


def render_drift_json_text(report: DriftReport) -> str:
    """:func:`render_drift_json` serialized: indented, UTF-8 kept, no trailing newline."""
    return dumps(render_drift_json(report), indent=2)


def drift_label(item: DriftItem) -> str:
    """A short name for what drifted: ``idle timeout``, ``failed``, ``unmanaged``, ..."""
    if item.kind == "changed":
        return f"changed {item.field}"
    if item.kind in ("unmanaged", "missing") or item.cause is None:
        return item.kind
    return _CAUSE_LABELS.get(item.cause, item.cause)


_CAUSE_LABELS = {
    "idle-timeout": "idle timeout",
    "runtime-cap": "runtime cap",
    "token-expired": "token expired",
    "restart-unfinished": "restart unfinished",
}


def _item(item: DriftItem) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "name": item.name,
        "agent_id": item.agent_id,
        "channel": item.channel,
        "status": item.status,
        "cause": item.cause,
        "message": item.message or None,
        "reason": item.reason,
        "expected": item.expected,
        "why": item.why,
        "change": (
            {"field": item.field, "recorded": item.recorded, "live": item.live}
            if item.field is not None
            else None
        ),
    }


def _subject(item: DriftItem) -> str:
    if item.name is None:
        return f"unmanaged agent {item.agent_id}"
    return f"{item.name} ({item.agent_id})"


def _journal_note(count: int) -> str:
    return (
        f"{_count(count, 'interrupted engine call')} recorded in state "
        "(the next plan or apply with --refresh resolves them)."
    )


def _cell(text: str) -> str:
    """Text safe inside a GitHub table cell: one line, pipes and HTML escaped."""
    one_line = " ".join(text.split())
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        one_line = one_line.replace(raw, escaped)
    return one_line


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
