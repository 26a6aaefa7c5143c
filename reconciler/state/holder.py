"""Who holds the state lock: the holder info a lock records, and the CI run.

The holder of a state lock records a :class:`LockInfo` (id, user@host, pid, command, start time,
CI run): the local backend in its lock file, the PostgreSQL backend in a row, so that a refused
acquirer can say who holds the lock and ``force-unlock`` can check it is clearing the right one.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["LockInfo", "ci_run_from_env", "now_iso", "who"]


@dataclass(frozen=True)
class LockInfo:
    """Who holds the state lock, as written in the lock file."""

    id: str
    who: str
    """``user@host``."""
    pid: int
    command: str
    started_at: str
    """ISO 8601, UTC, seconds precision (``2026-11-24T19:00:00Z``)."""
    ci_run: str | None = None
    """The CI run holding the lock (a URL where the CI system provides one), else ``None``."""

    @property
    def host(self) -> str:
        return self.who.rpartition("@")[2]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LockInfo | None:
        """Parse holder info; ``None`` when the text is empty or not holder info."""
        try:
            data: Any = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply
            return None
        if not isinstance(data, dict):
            return None
        try:
            ci_run = data.get("ci_run")
            info = cls(
                id=str(data["id"]),
                who=str(data["who"]),
                pid=int(data["pid"]),
                command=str(data.get("command", "")),
                started_at=str(data.get("started_at", "")),
                ci_run=None if ci_run is None else str(ci_run),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return info

    def describe(self) -> str:
        """``alice@ci-3 (pid 4242) running 'apply' since 2026-11-24T19:00:00Z``."""
        text = f"{self.who} (pid {self.pid})"
        if self.command:
            text += f" running {self.command!r}"
        text += f" since {self.started_at}"
        if self.ci_run:
            text += f" in CI run {self.ci_run}"
        return text


def ci_run_from_env(env: Mapping[str, str]) -> str | None:
    """The CI run named by the environment, if any (a URL where the CI system provides one)."""
    if env.get("GITHUB_RUN_ID"):
        repo = env.get("GITHUB_REPOSITORY")
        if repo:
            server = env.get("GITHUB_SERVER_URL") or "https://github.com"
            return f"{server.rstrip('/')}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
        return f"GitHub Actions run {env['GITHUB_RUN_ID']}"
    for key in (
        "CI_JOB_URL",  # GitLab
        "BUILDKITE_BUILD_URL",
        "CIRCLE_BUILD_URL",
        "TRAVIS_BUILD_WEB_URL",
        "BUILD_URL",  # Jenkins, TeamCity
    ):
        if env.get(key):
            return env[key]
    if env.get("BUILD_BUILDID") and env.get("SYSTEM_COLLECTIONURI"):  # Azure Pipelines
        project = env.get("SYSTEM_TEAMPROJECT", "")
        base = env["SYSTEM_COLLECTIONURI"].rstrip("/")
        return f"{base}/{project}/_build/results?buildId={env['BUILD_BUILDID']}"
    if env.get("BITBUCKET_BUILD_NUMBER") and env.get("BITBUCKET_REPO_FULL_NAME"):
        return (
            f"https://bitbucket.org/{env['BITBUCKET_REPO_FULL_NAME']}"
            f"/pipelines/results/{env['BITBUCKET_BUILD_NUMBER']}"
        )
    return None


def who() -> str:
    """``user@host`` of this process."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
