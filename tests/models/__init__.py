"""Tests of the layer-0 rules in ``reconciler.models``."""
