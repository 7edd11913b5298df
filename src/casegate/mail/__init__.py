"""Formats every layer shares: where a server listens (host and port). Imports no other
casegate package but ``errors``."""
