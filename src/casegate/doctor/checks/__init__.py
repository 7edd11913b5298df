"""The checks of ``casegate doctor``, one module each: ``check(domain, host)`` for a company
domain's records, ``check(host)`` for this host."""
