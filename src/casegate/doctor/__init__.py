"""``casegate doctor``: checks, for each company domain and for this host, what a mail
server needs from the DNS and from itself, and explains each finding with the record to
publish.

The checks run in the order of :data:`DOMAIN_CHECKS` and :data:`HOST_CHECKS`, one module
each in ``checks/`` (its ``NAME`` and its ``check``); every DNS question goes through
casegate's caching resolver.
"""

from __future__ import annotations

from casegate.doctor.base import DomainCheck, HostCheck
from casegate.doctor.checks import (
    certificate,
    clock,
    database,
    dkim,
    dmarc,
    http_port,
    mta_sts,
    mx,
    queue,
    reverse_dns,
    rspamd,
    smtp_port,
    spf,
    tls_rpt,
)

DOMAIN_CHECKS: tuple[DomainCheck, ...] = (mx, spf, dkim, dmarc, mta_sts, tls_rpt)
HOST_CHECKS: tuple[HostCheck, ...] = (
    reverse_dns, certificate, smtp_port, http_port, rspamd, database, clock, queue)
