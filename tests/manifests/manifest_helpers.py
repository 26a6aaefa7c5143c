"""Helpers for the manifest tests: a throw-away project directory to fill and load."""

from __future__ import annotations

import textwrap
import zlib
from collections.abc import Mapping
from pathlib import Path

import pytest

from reconciler.errors import ValidationError
from reconciler.manifests import load_desired
from reconciler.models import DesiredSet, Settings

FIXTURES = Path(__file__).parent / "fixtures"
CERTIFICATE = "0123456789abcdef0123456789abcdef"

# A valid cascaded agent's properties, to append to in tests (2-space indented under properties).
VALID_PROPERTIES = """\
  channel: room-1
  agent_rtc_uid: "1001"
  remote_rtc_uids: ["1002"]
  llm:
    url: https://llm.example/v1/chat/completions
    params: {model: gpt-4o-mini}
  tts:
    vendor: microsoft
    params: {region: eastus}
"""


class Project:
    """A project directory under tmp_path: write files, then load its agents."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "agents.d").mkdir()

    def write(self, relative: str, text: str) -> Path:
        """Write ``text`` (dedented) to ``relative`` under the project directory."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def agent(self, relative: str, name: str, extra: str = "", props: str = "") -> Path:
        """Write a valid agent, with ``extra`` top-level lines and ``props`` more properties.

        Each name gets a channel of its own, so that agents of different names never share a
        channel and uid (a validation error).
        """
        channel = f"room-{zlib.crc32(name.encode()):08x}"
        valid = VALID_PROPERTIES.replace("channel: room-1", f"channel: {channel}")
        body = f"name: {name}\n{textwrap.dedent(extra)}properties:\n{valid}"
        more = textwrap.indent(textwrap.dedent(props), "  ")
        return self.write(f"agents.d/{relative}", body + more)

    def settings(self, **changes: object) -> Settings:
        values: dict[str, object] = {"project_dir": self.root}
        values.update(changes)
        return Settings.model_validate(values)

    def load(self, environ: Mapping[str, str] | None = None, **changes: object) -> DesiredSet:
        return load_desired(self.settings(**changes), environ or {})

    def errors(self, environ: Mapping[str, str] | None = None, **changes: object) -> list[str]:
        """Every problem line (``path:line: message``) the loader reports; fails if none."""
        with pytest.raises(ValidationError) as caught:
            self.load(environ, **changes)
        return [str(problem) for problem in caught.value.problems]
