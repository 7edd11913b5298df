"""Classifying mail (spam) before it is routed."""
