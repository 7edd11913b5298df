"""Mail held in quarantine, stored as the gateway stores it (``enqueue``), for the tests of
the quarantine's pages, commands and functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from casegate.desk.services import add_intake
from casegate.desk.vocabulary import IntakeKind
from casegate.directory.services import add_domain
from casegate.filtering.auth_results import header_value
from casegate.mail.headers import HeaderFields, shown
from casegate.spool.messages import AcceptedMessage, QuarantineRow, enqueue, new_queue_id
from casegate.spool.models import Quarantine
from tests.mails import mail

CASES = "cases@solarmora.com"
SPAM_REASON = "classified as spam; no rule with bypass spam filter applies"


def desk() -> None:
    """The company whose intake held mail is released to."""
    add_domain("solarmora.com")
    add_intake(IntakeKind.CASE, CASES)


def authentication(dmarc: str = "fail", dkim: tuple[str, ...] = ("none",),
                   dmarc_comment: str = "p=reject dis=none") -> str:
    """A stored Authentication-Results value, as the gateway writes it."""
    return header_value("gw.test", [
        "spf=pass smtp.mailfrom=bulk.example",
        *(f"dkim={result} header.d=bulk.example" for result in dkim),
        f"dmarc={dmarc} ({dmarc_comment}) header.from=bulk.example",
        "arc=none"])


def rspamd_report(score: float | None = 9.5, symbols: dict[str, float | None] | None = None
                  ) -> dict[str, Any]:
    return {"classifier": "rspamd", "action": "spam", "filter_action": "add header",
            "scanned": True, "score": score, "required_score": 15.0,
            "symbols": {"BAYES_SPAM": 5.1, "MISSING_DATE": 1.0, "R_SPF_ALLOW": -0.2}
            if symbols is None else symbols,
            "reason": f"rspamd: add header, score {score}"}


def hold(subject: str = "Cheap watches", sender: str = "Offers <offers@bulk.example>",
         mail_from: str = "offers@bulk.example", recipient: str = CASES,
         reason: str = SPAM_REASON, auth_results: str = "",
         spam_report: dict[str, Any] | None = None, spam_reason: str = "rspamd: add header",
         received_at: datetime | None = None, raw: bytes | None = None) -> Quarantine:
    """One held entry for ``recipient`` of a message stored as the gateway does."""
    raw = raw or mail(subject=subject, sender=sender, to=recipient, body="Buy now")[0]
    headers = HeaderFields(raw)
    message = AcceptedMessage(
        queue_id=new_queue_id(), mail_from=mail_from, rcpt_tos=[recipient],
        received_at=received_at or datetime.now(UTC), peer="198.51.100.7",
        helo="bulk.example", message_id=headers.get("Message-ID") or "", spam=True,
        spam_reason=spam_reason, raw=raw, auth_results=auth_results,
        subject=shown(headers, "Subject"), from_header=shown(headers, "From"),
        spam_report=rspamd_report() if spam_report is None else spam_report,
        quarantine=[QuarantineRow(recipient, reason)])
    enqueue([message])
    return Quarantine.objects.get(message_id=message.queue_id)
