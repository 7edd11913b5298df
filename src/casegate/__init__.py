"""casegate: a mail gateway that routes support and sales addresses into cases and leads."""

__version__ = "0.1.0"
