"""Layer 4: a project's commands as values, wired together (no printing).

:class:`Project` loads the settings and manifests, holds the state store and lock, connects to
the engine (the in-process sandbox or a remote endpoint), and runs the workflows the CLI
exposes: plan (with journal resolution and refresh), apply (of a fresh or a saved plan) and
destroy. The CLI renders what these return.
"""

from reconciler.project.locate import require_project
from reconciler.project.planfile import SavedPlan, load_plan_file, save_plan_file
from reconciler.project.project import PlanOutcome, Project

__all__ = [
    "PlanOutcome",
    "Project",
    "SavedPlan",
    "load_plan_file",
    "require_project",
    "save_plan_file",
]
