"""Tests of manifests and settings loading (reconciler.manifests) and `validate`/`schema`."""
