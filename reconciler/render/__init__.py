"""Layer 4: renderers of a :class:`~reconciler.models.Plan`. Pure functions; nothing prints.

- :func:`render_text`: the terminal plan (Terraform-like; ANSI colour only when asked);
- :func:`render_warnings`: the plan's warnings as lines, for the CLI to print on stderr;
- :func:`render_markdown`: a pull-request comment under GitHub's size limit;
- :func:`render_json`: the versioned JSON document described in ``docs/plan-format.md``
  (serialized by :func:`render_json_text`, or piece by piece by :func:`render_json_chunks`);
- :func:`plan_summary_line`: the one-line summary shared by all of them.
"""

from reconciler.render.common import plan_summary_line
from reconciler.render.json_format import (
    JSON_FORMAT_VERSION,
    render_json,
    render_json_chunks,
    render_json_text,
)
from reconciler.render.markdown import plan_marker, render_markdown
from reconciler.render.text import render_text, render_warnings

__all__ = [
    "JSON_FORMAT_VERSION",
    "plan_marker",
    "plan_summary_line",
    "render_json",
    "render_json_chunks",
    "render_json_text",
    "render_markdown",
    "render_text",
    "render_warnings",
]
