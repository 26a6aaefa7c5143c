"""Layer 1: manifests and settings: read YAML, interpolate, merge partials, validate.

- :func:`load_desired` reads ``agents.d/`` into a :class:`~reconciler.models.DesiredSet`;
- :func:`load_settings` reads ``reconciler.yaml`` and the environment into
  :class:`~reconciler.models.Settings`;
- :func:`manifest_schema` is the JSON Schema of a manifest, for editors.

Both loaders raise :class:`~reconciler.errors.ValidationError` carrying every problem found, each
located as ``path:line``; no message ever holds a secret value.
"""

from reconciler.manifests.loader import load_desired
from reconciler.manifests.schema import manifest_schema
from reconciler.manifests.settings import load_settings

__all__ = ["load_desired", "load_settings", "manifest_schema"]
