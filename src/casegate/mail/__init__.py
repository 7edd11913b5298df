"""Formats every layer shares: where a server listens (host and port), a raw message's
header fields, its sender. Imports no other casegate package but ``errors``."""
