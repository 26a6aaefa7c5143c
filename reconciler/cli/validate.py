"""``reconciler validate`` and ``reconciler schema``.

``validate`` loads the settings and every manifest and prints ``N agents valid``; any problem is
raised as a :class:`~reconciler.errors.ValidationError`, which :func:`reconciler.cli.main` prints
on stderr (every problem, one ``path:line: message`` a line) before exiting with status 1.

``schema`` prints the JSON Schema of a manifest (``--partial``: of a partial), as committed in
``docs/manifest.schema.json`` for editors.
"""

from __future__ import annotations

import json

import click

from reconciler.cli.common import desired_agents, project_settings
from reconciler.manifests import manifest_schema


@click.command("validate")
@click.pass_context
def validate_cmd(ctx: click.Context) -> None:
    """Check reconciler.yaml and every manifest in agents.d/; report every problem at once."""
    settings = project_settings(ctx)
    desired = desired_agents(settings)
    count = len(desired.agents)
    click.echo(f"{count} agent{'s' if count != 1 else ''} valid")
    if ctx.find_root().obj and ctx.find_root().obj.get("verbose"):
        for name, agent in desired.agents.items():
            click.echo(f"  {name}  {agent.path}:{agent.line}")


@click.command("schema")
@click.option(
    "--partial", is_flag=True, help="Schema of a partial (agents.d/_*): nothing required."
)
def schema_cmd(partial: bool) -> None:
    """Print the JSON Schema of a manifest (for yaml-language-server and other editors)."""
    click.echo(json.dumps(manifest_schema(partial=partial), indent=2))
