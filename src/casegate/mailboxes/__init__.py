"""Mailbox accounts: mail fetched over IMAP or POP3 from a mailbox the company already has,
entered where SMTP mail enters (``gateway.local``)."""
