"""Tests of the engine client (reconciler.engine)."""
