"""Routing rules: which envelope recipients are re-routed, and where to."""
