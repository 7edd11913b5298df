"""Per-recipient deliveries: to the desk, to a local mailbox, or to a remote SMTP host."""
