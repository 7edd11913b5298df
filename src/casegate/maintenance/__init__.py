"""Keeping an installation: backups and restores of its home and database, and upgrades of
its database schema."""
