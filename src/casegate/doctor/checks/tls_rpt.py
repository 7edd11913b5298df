"""TLS-RPT: the domain asks senders for reports of TLS failures (RFC 8460)."""

from __future__ import annotations

from casegate.doctor.base import Finding, Host, txt
from casegate.doctor.vocabulary import CheckStatus

NAME = "TLS-RPT"


def check(domain: str, host: Host) -> Finding:
    from checkdmarc.smtp_tls_reporting import (
        SMTPTLSReportingError,
        parse_smtp_tls_reporting_record,
    )

    name = f"_smtp._tls.{domain}"
    publish = f'{name}. IN TXT "v=TLSRPTv1; rua=mailto:postmaster@{domain}"'
    records = txt(name, "v=TLSRPTv1")
    if not records:
        return Finding(NAME, domain, CheckStatus.WARNING,
                       f"{domain} asks for no TLS reports: failures of senders' TLS to this"
                       " host go unseen", publish)
    if len(records) > 1:
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"{name} holds {len(records)} TLS-RPT records; keep one", publish)
    try:
        parsed = parse_smtp_tls_reporting_record(records[0])
    except SMTPTLSReportingError as exc:
        return Finding(NAME, domain, CheckStatus.FAILING, f'"{records[0]}": {exc}', publish)
    return Finding(NAME, domain, CheckStatus.OK,
                   f"reports go to {', '.join(parsed['tags']['rua']['value'])}")
