"""An update of a Platform resource whose answer was lost (the sandbox's ``drop_after`` fault:
the Platform applies the PATCH, the answer never arrives) is written ahead in its record and
settled by the next plan from what the Platform holds: recorded when the Platform shows what was
sent, forgotten when the version did not move, shown as drift when someone changed the resource
outside meanwhile. Never a 412 loop, never a blind overwrite.

The CLI runs in process (its real entry point) on the in-process sandbox; one sandbox app serves
every command of a test (so its fault rules apply to them) and the test's own calls.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.project.connect as connect
from reconciler.models import Settings
from reconciler.sandbox import SandboxConfig, create_app
from reconciler.state import LocalStateStore
from tests.reliability.inproc import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "0123456789abcdef0123456789abcdef"
PLATFORM = f"/conversational-ai/v1/projects/{APP_ID}"
BASIC = httpx.BasicAuth("sandbox", "sandbox")
KEY = "sk-interrupted-ORIGINAL-5b1e9d"
ROTATED = "sk-interrupted-ROTATED-8c2f4a"


class PlatformProject:
    """The example project's Platform manifests (agents.d/platform.yaml) on one in-process
    sandbox app that the test holds."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dir = directory
        (directory / "agents.d").mkdir(parents=True)
        shutil.copy(ROOT / "agents.d" / "platform.yaml", directory / "agents.d")
        shutil.copy(ROOT / "tests" / "single_environment.yaml", directory / "reconciler.yaml")
        db = directory / ".sandbox" / "engine.db"
        db.parent.mkdir()
        self.app = create_app(
            SandboxConfig(customer_id="sandbox", customer_secret="sandbox", db_path=str(db))
        )
        self.env: dict[str, str | None] = {"OPENAI_API_KEY": KEY}

        def shared(_settings: Settings, **_: bool) -> tuple[httpx.AsyncBaseTransport, Any]:
            return httpx.ASGITransport(app=self.app), lambda: None

        monkeypatch.setattr(connect, "sandbox_transport", shared)

    # the CLI

    def run(self, *args: str) -> CliResult:
        return run_cli("-C", str(self.dir), *args, env=self.env)

    def ok(self, *args: str, code: int = 0) -> CliResult:
        result = self.run(*args)
        assert result.code == code, str(result)
        assert "Traceback" not in result.output, str(result)
        return result

    def edit(self, old: str, new: str) -> None:
        path = self.dir / "agents.d" / "platform.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def record(self, address: str) -> dict[str, Any]:
        """The state's record of ``address``, as the next process reads it (log replayed)."""
        doc = LocalStateStore(self.dir / "state" / "agents.json").load()
        found: dict[str, Any] = doc.resources[address].model_dump(mode="json")
        return found

    # the sandbox, from outside

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
                auth = BASIC if path.startswith(PLATFORM) else None
                return await c.request(method, path, json=body, headers=headers, auth=auth)

        return asyncio.run(go())

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.call(method, f"/_sandbox{path}", body)
        assert response.status_code == 200, response.text
        return response.json()

    def fault(self, **rule: Any) -> None:
        self.control("POST", "/faults/rules", rule)

    def requests(self, route: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.control("GET", f"/requests?route={route}")["requests"]
        return found

    def held(self, kind: str, ident: str) -> httpx.Response:
        """The resource as the Platform answers it (body and ETag)."""
        response = self.call("GET", f"{PLATFORM}/{kind}/{ident}")
        assert response.status_code == 200, response.text
        return response


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PlatformProject]:
    made = PlatformProject(tmp_path / "project", monkeypatch)
    made.ok("apply", "--auto-approve")
    yield made
    made.app.state.sandbox.close()


@dataclass(frozen=True)
class Case:
    """One kind: the manifest change its update sends, the route and path of that update, and
    a change someone makes outside (another field, the Platform shows it)."""

    address: str
    route: str
    collection: str
    old: str
    new: str
    outside: dict[str, Any]
    outside_path: str

    def ident(self, project: PlatformProject) -> str:
        return str(project.record(self.address)["id"])


SECRET_SET = Case(
    address="SecretSet/llm_keys",
    route="update-secret-set",
    collection="secrets",
    old="",
    new="",
    outside={"secrets": {"added_outside": "value-set-in-the-console"}},
    outside_path="keys.added_outside",
)
SAVED_AGENT = Case(
    address="SavedAgent/support",
    route="update-agent",
    collection="agents",
    old="Answer briefly and in plain words.",
    new="Answer in one sentence.",
    outside={"greeting": {"text": "Edited in the console"}},
    outside_path="greeting.text",
)
PHONE_NUMBER = Case(
    address="PhoneNumber/support-line",
    route="update-number",
    collection="numbers",
    old="max_call_duration_seconds: 1800",
    new="max_call_duration_seconds: 600",
    outside={"description": "Edited in the console"},
    outside_path="description",
)
CASES = [SECRET_SET, SAVED_AGENT, PHONE_NUMBER]


def change(project: PlatformProject, case: Case) -> None:
    """The manifest change whose update the test interrupts (a secret set: a rotated key)."""
    if case is SECRET_SET:
        project.env["OPENAI_API_KEY"] = ROTATED
    else:
        project.edit(case.old, case.new)


def lose_the_answer(project: PlatformProject, case: Case) -> str:
    """Apply ``case``'s change with its PATCH applied by the Platform and its answer lost; the
    version state recorded before."""
    before = project.record(case.address)["version"]
    change(project, case)
    project.fault(route=case.route, action="drop_after", times=1)
    lost = project.ok("apply", "--auto-approve", code=1)
    assert "took effect is unknown" in lost.output
    assert "PreconditionFailed" not in lost.output
    project.control("DELETE", "/faults/rules")
    return str(before)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.address.split("/")[0])
def test_an_update_whose_answer_was_lost_is_recorded_by_the_next_plan_and_not_sent_again(
    project: PlatformProject, case: Case
) -> None:
    before = lose_the_answer(project, case)
    ident = case.ident(project)
    live = project.held(case.collection, ident)
    assert live.headers["ETag"] != before  # the Platform applied it
    entry = project.record(case.address)["updating"]  # written ahead, still there
    assert (entry["base_version"], project.record(case.address)["version"]) == (before, before)

    preview = project.ok("plan", "--detailed-exitcode")  # no change left to make
    assert "took effect" in preview.output and "changed outside" not in preview.output
    assert project.record(case.address)["updating"] == entry  # plan wrote nothing

    sent = len(project.requests(case.route))
    applied = project.ok("apply", "--auto-approve")
    assert "PreconditionFailed" not in applied.output
    assert len(project.requests(case.route)) == sent  # not sent again
    record = project.record(case.address)
    assert "updating" not in record
    assert record["version"] == live.headers["ETag"]
    assert record["spec"] == entry["spec"]
    project.ok("plan", "--detailed-exitcode")


def test_a_lost_rotation_is_the_rotated_value_on_the_platform(project: PlatformProject) -> None:
    lose_the_answer(project, SECRET_SET)
    project.ok("apply", "--auto-approve")
    check = {"app_id": APP_ID, "set": "llm_keys", "key": "openai", "value": ROTATED}
    assert project.control("POST", "/platform/secrets/check", check) == {"matches": True}
    assert ROTATED not in (project.dir / "state" / "agents.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.address.split("/")[0])
def test_a_change_made_outside_after_a_lost_answer_is_shown_as_drift_never_overwritten_blind(
    project: PlatformProject, case: Case
) -> None:
    lose_the_answer(project, case)
    ident = case.ident(project)
    live = project.held(case.collection, ident)
    console = project.call(
        "PATCH",
        f"{PLATFORM}/{case.collection}/{ident}",
        case.outside,
        {"If-Match": live.headers["ETag"]},
    )
    assert console.status_code == 200, console.text
    sent = len(project.requests(case.route))

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert f"changed outside: {case.outside_path};" in plan.output  # that change only
    assert "nothing is sent to it without review" in plan.output
    assert len(project.requests(case.route)) == sent  # a plan sends nothing

    # Applying is the reviewed drift: sent once, with the version the plan read (no 412).
    applied = project.ok("apply", "--auto-approve")
    assert "changed outside" in applied.output
    assert [r["status"] for r in project.requests(case.route)][sent:] == [200]
    held = project.held(case.collection, ident).json()
    assert "Edited in the console" not in str(held) and "added_outside" not in str(held)
    assert "updating" not in project.record(case.address)
    project.ok("plan", "--detailed-exitcode")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.address.split("/")[0])
def test_an_update_that_never_reached_the_platform_is_forgotten_and_planned_again(
    project: PlatformProject, case: Case
) -> None:
    before = project.record(case.address)["version"]
    change(project, case)
    project.fault(route=case.route, status=503)  # every attempt answered 503: nothing applied
    failed = project.ok("apply", "--auto-approve", code=1)
    assert "took effect is unknown" in failed.output
    project.control("DELETE", "/faults/rules")
    assert project.record(case.address)["updating"]["base_version"] == before
    assert project.held(case.collection, case.ident(project)).headers["ETag"] == before

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "did not take effect" in plan.output
    project.ok("apply", "--auto-approve")
    record = project.record(case.address)
    assert "updating" not in record and record["version"] != before
    project.ok("plan", "--detailed-exitcode")


def test_a_resource_deleted_outside_after_a_lost_answer_is_created_again(
    project: PlatformProject,
) -> None:
    lose_the_answer(project, PHONE_NUMBER)
    ident = PHONE_NUMBER.ident(project)
    assert project.call("DELETE", f"{PLATFORM}/numbers/{ident}").status_code == 200
    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "found it gone" in plan.output and "missing" in plan.output
    project.ok("apply", "--auto-approve")
    record = project.record(PHONE_NUMBER.address)
    assert "updating" not in record and record["id"] != ident
    assert "600" in str(project.held("numbers", record["id"]).json())
    project.ok("plan", "--detailed-exitcode")


def test_a_saved_plan_is_refused_while_an_interrupted_update_is_unsettled(
    project: PlatformProject,
) -> None:
    lose_the_answer(project, SAVED_AGENT)
    saved = str(project.dir.parent / "made-before.plan")  # not in the current directory
    project.ok("plan", "--out", saved)  # a preview: the entry is still in state
    refused = project.ok("apply", saved, "--auto-approve", code=3)  # stale
    assert "interrupted update(s) (SavedAgent/support)" in refused.output
    assert "updating" in project.record(SAVED_AGENT.address)
    project.ok("apply", "--auto-approve")  # settles it
    assert "updating" not in project.record(SAVED_AGENT.address)


def test_a_plan_without_refresh_says_an_interrupted_update_is_unresolved(
    project: PlatformProject,
) -> None:
    lose_the_answer(project, SAVED_AGENT)
    plan = project.ok("plan", "--no-refresh")
    assert "1 interrupted update(s) recorded in state are unresolved" in plan.output


def test_an_update_reverted_outside_after_a_lost_answer_is_drift_not_a_412_loop(
    project: PlatformProject,
) -> None:
    lose_the_answer(project, SAVED_AGENT)
    ident = SAVED_AGENT.ident(project)
    live = project.held("agents", ident)
    reverted = live.json()["instructions"].replace(SAVED_AGENT.new, SAVED_AGENT.old)
    console = project.call(
        "PATCH",
        f"{PLATFORM}/agents/{ident}",
        {"instructions": reverted},
        {"If-Match": live.headers["ETag"]},
    )
    assert console.status_code == 200, console.text

    plan = project.ok("plan", "--detailed-exitcode", code=2)
    assert "changed outside: instructions;" in plan.output
    assert "nothing is sent to it without review" in plan.output
    sent = len(project.requests("update-agent"))
    project.ok("apply", "--auto-approve")
    assert [r["status"] for r in project.requests("update-agent")][sent:] == [200]
    assert SAVED_AGENT.new in project.held("agents", ident).json()["instructions"]
    project.ok("plan", "--detailed-exitcode")
