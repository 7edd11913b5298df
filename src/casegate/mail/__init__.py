"""Formats every layer shares: where a server listens (host and port), a raw message's
header fields. Imports no other casegate package but ``errors``."""
