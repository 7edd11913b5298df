"""Delivery status notifications (RFC 3464): one per message and failure, never to ``<>``.

When deliveries end as bounced or expired, the worker composes one multipart/report for
each message (covering every recipient that failed since the last report) and queues it
to the envelope sender like any other mail. Senders that asked for no report (DSN
``NOTIFY=NEVER``, or a NOTIFY list without FAILURE) and the null sender get none, so a
bounce can never cause another bounce.

With ``CASEGATE_DELAY_WARNING`` set (hours, like Postfix's ``delay_warning_time``), a
delivery still being retried after that long gets one "delayed" report, unless the
client's NOTIFY list leaves out DELAY.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.policy import SMTP, compat32
from email.utils import format_datetime, make_msgid

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from casegate.mail.headers import header_block
from casegate.maillog import address_text
from casegate.routing.engine import RoutingTable
from casegate.spool.messages import AcceptedMessage, enqueue, generated_message
from casegate.spool.models import Delivery, Message
from casegate.spool.vocabulary import DeliveryState, DsnState

log = logging.getLogger("casegate.delivery")

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_REPLY_CODE = re.compile(r"\b([245]\d\d)\b")


def _wants(mail_from: str, notify: str, word: str) -> bool:
    if not mail_from:
        return False
    if not notify:
        return True
    words = {w.strip().upper() for w in notify.split(",")}
    return "NEVER" not in words and word in words


def wants_failure_report(mail_from: str, notify: str) -> bool:
    return _wants(mail_from, notify, "FAILURE")


def wants_delay_report(mail_from: str, notify: str) -> bool:
    return _wants(mail_from, notify, "DELAY")


@dataclass(frozen=True)
class ReportKind:
    action: str
    subject: str
    explanation: str
    wants: Callable[[str, str], bool]
    done: str


FAILED = ReportKind("failed", "Undelivered Mail Returned to Sender",
                    "Your message could not be delivered to the recipients below.",
                    wants_failure_report, DsnState.SENT)
DELAYED = ReportKind("delayed", "Delayed Mail (still being retried)",
                     "Your message has not been delivered yet to the recipients below. "
                     "It is still being retried; you need not send it again.",
                     wants_delay_report, DsnState.WARNED)


def _answered(reply: str) -> tuple[str, str, str]:
    """``reply`` as our words before the next hop's name, the name, and what the next hop
    said (``host said: …``, perhaps after ``delivery time expired; last error:``); without
    a next hop's answer, ``("", "", reply)``."""
    if " said: " not in reply:
        return "", "", reply
    before, said = reply.split(" said: ", 1)
    ours, _, host = before.rpartition(" ")
    return ours, host, said


def status_of(delivery: Delivery) -> str:
    ours, _, said = _answered(delivery.last_reply)
    found = _STATUS.search(f"{ours} {said}")  # not in the host's name: 10.2.3.4 said: …
    if delivery.state == DeliveryState.DEFERRED:
        return found.group(1) if found and found.group(1)[0] == "4" else "4.0.0"
    if found and found.group(1)[0] in "45":
        bounced = delivery.state == DeliveryState.BOUNCED
        return "5" + found.group(1)[1:] if bounced else found.group(1)
    return "4.4.7" if delivery.state == DeliveryState.EXPIRED else "5.0.0"


def _fields(pairs: list[tuple[str, str]]) -> EmailMessage:
    block = EmailMessage(policy=compat32)
    for name, value in pairs:
        block[name] = value
    return block


def _recipient_fields(delivery: Delivery, action: str) -> EmailMessage:
    fields = []
    if delivery.orcpt:
        fields.append(("Original-Recipient", delivery.orcpt))
    fields += [
        ("Final-Recipient", f"rfc822; {delivery.recipient}"),
        ("Action", action),
        ("Status", status_of(delivery)),
    ]
    _, host, said = _answered(delivery.last_reply)
    if host:
        fields.append(("Remote-MTA", f"dns; {host}"))
        if _REPLY_CODE.match(said):
            fields.append(("Diagnostic-Code", f"smtp; {' '.join(said.split())}"))
    fields.append(("Last-Attempt-Date", format_datetime(delivery.updated_at)))
    return _fields(fields)


def compose(message: Message, failures: list[Delivery], reporting_mta: str,
            kind: ReportKind = FAILED) -> bytes:
    """The report for ``failures`` of ``message``: explanation, status fields, original."""
    now = datetime.now(UTC)
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{reporting_mta}>"
    report["To"] = f"<{message.mail_from}>"
    report["Subject"] = kind.subject
    report["Date"] = format_datetime(now)
    report["Message-ID"] = make_msgid(domain=reporting_mta)
    report["Auto-Submitted"] = "auto-replied"
    explanation = "\n".join(
        [f"This is the mail system at {reporting_mta}.", "",
         kind.explanation, ""]
        + [f"<{d.recipient}>: {d.last_reply}" for d in failures]
    )
    report.attach(MIMEText(explanation + "\n", "plain", "utf-8"))
    per_message = [("Reporting-MTA", f"dns; {reporting_mta}")]
    if message.dsn_envid:
        per_message.append(("Original-Envelope-Id", message.dsn_envid))
    per_message.append(("Arrival-Date", format_datetime(message.received_at)))
    status = MIMEBase("message", "delivery-status")
    status.set_payload([_fields(per_message),
                        *(_recipient_fields(d, kind.action) for d in failures)])
    report.attach(status)
    raw = bytes(message.raw)
    if message.dsn_ret == "FULL":
        original: MIMEBase = MIMEMessage(BytesParser(policy=compat32).parsebytes(raw))
    else:
        headers = header_block(raw).decode("utf-8", errors="replace")
        original = MIMEText(headers, "rfc822-headers",
                            "us-ascii" if headers.isascii() else "utf-8")
    report.attach(original)
    try:
        return report.as_bytes(policy=SMTP)
    except (UnicodeError, ValueError):  # an original that cannot be carried as it is
        parts = report.get_payload()
        assert isinstance(parts, list)  # a multipart/report: its parts
        report.set_payload(parts[:2])
        report.attach(MIMEText(header_block(raw).decode("ascii", errors="replace"),
                               "rfc822-headers", "us-ascii"))
        return report.as_bytes(policy=SMTP)


def queue_reports(table: RoutingTable, reporting_mta: str, limit: int = 200,
                  delay_warning: float = 0.0) -> int:
    """Compose and queue the reports that are due; returns how many were queued.

    ``delay_warning``: seconds after which a delivery still deferred is reported (0: never).
    """
    queued = _queue(table, reporting_mta, limit, FAILED,
                    Delivery.objects.filter(dsn_state=DsnState.PENDING))
    if delay_warning > 0:
        queued += _queue(table, reporting_mta, limit, DELAYED, Delivery.objects.filter(
            state=DeliveryState.DEFERRED, dsn_state=DsnState.NONE,
            created_at__lt=timezone.now() - timedelta(seconds=delay_warning)))
    return queued


def _queue(table: RoutingTable, reporting_mta: str, limit: int, kind: ReportKind,
           candidates: QuerySet[Delivery]) -> int:
    with transaction.atomic():
        due = list(candidates.select_for_update(skip_locked=True).order_by("id")[:limit])
        if not due:
            return 0
        by_message: dict[str, list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_message[delivery.message_id].append(delivery)
        messages = Message.objects.in_bulk(list(by_message))
        reports: list[AcceptedMessage] = []
        suppressed: list[int] = []
        for queue_id, failures in by_message.items():
            message = messages[queue_id]
            # The sender of spam (a DMARC failure included) is most likely forged: a report
            # would go to someone who sent nothing (backscatter).
            wanted = [] if message.spam else [
                d for d in failures if kind.wants(message.mail_from, d.notify)]
            suppressed += [d.pk for d in failures if d not in wanted]
            targets = table.destinations(message.mail_from.lower()) if wanted else ()
            if wanted and not targets:
                log.warning("queue=%s no route back to %s; the report is dropped",
                            queue_id, address_text(message.mail_from))
            if not targets:
                suppressed += [d.pk for d in wanted]
                continue
            try:
                report = compose(message, wanted, reporting_mta, kind)
            except Exception:
                log.exception("queue=%s the delivery report cannot be composed", queue_id)
                suppressed += [d.pk for d in wanted]
                continue
            reports.append(generated_message({message.mail_from: targets}, report, reporting_mta))
            log.info("queue=%s report for %d failed recipient(s) queued as %s", queue_id,
                     len(wanted), reports[-1].queue_id)
            Delivery.objects.filter(pk__in=[d.pk for d in wanted]).update(dsn_state=kind.done)
        if reports:
            enqueue(reports)
        if suppressed:
            Delivery.objects.filter(pk__in=suppressed).update(
                dsn_state=DsnState.SUPPRESSED if kind is FAILED else DsnState.WARNED)
    return len(reports)
