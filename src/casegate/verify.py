"""``casegate verify``: send a test message and follow it through every hop.

The article's manual check (send a message, look in the CRM) as one command: the message
goes in through the SMTP port like any customer's, then the queue and the desk are read
until each hop has happened or the time is up. Hops, in order:

1. **accepted**: the gateway answered 250 (its queue id), or the reply that refused it;
2. **routed**: the rules that applied and the final recipients, or the quarantine entry;
3. **delivered**: each final recipient's delivery (desk, mailbox or remote host and its
   reply), or the bounce or the last temporary error;
4. **case opened**: for deliveries to a desk intake, the case or lead it was filed on.

The test message comes from the null envelope sender and says it is automated, so it
draws no acknowledgement, notification or bounce; its subject says it is a test, and its
signed Message-ID keeps the desk from suspending it as an auto-mailer's and tags its case
``test``. Once the hops are known, the case or lead it opened and its copies in local
mailboxes are removed, unless it is asked to keep them (``--keep``).
"""

from __future__ import annotations

import secrets
import smtplib
import time
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, localtime
from typing import Any

from django.utils.translation import gettext as _

from casegate.config import get_config
from casegate.delivery import maildir
from casegate.delivery.services import act_on_queue
from casegate.desk.models import DeskMessage
from casegate.desk.threading import signed_test_message_id
from casegate.desk.verification import remove_test_conversations
from casegate.spool.models import Delivery, Quarantine
from casegate.spool.vocabulary import FINAL_FAILURES, DeliveryKind, DeliveryState


@dataclass
class Hop:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Verification:
    address: str
    hops: list[Hop] = field(default_factory=list)
    failure: str = ""
    removed: list[str] = field(default_factory=list)  # what the test made, removed after it

    @property
    def ok(self) -> bool:
        return not self.failure

    def as_dict(self) -> dict[str, Any]:
        return {"address": self.address, "ok": self.ok, "failure": self.failure or None,
                "hops": [asdict(h) for h in self.hops], "removed": self.removed}

    def lines(self) -> list[str]:
        lines = [f"{'ok  ' if hop.ok else 'FAIL'} {hop.seconds:7.3f}s  {hop.name}: {hop.detail}"
                 for hop in self.hops]
        lines.append(f"verified: {self.address} reaches its destination" if self.ok
                     else f"not verified: {self.failure}")
        if self.removed:
            lines.append(f"removed after the test: {', '.join(self.removed)} (--keep keeps"
                         " them)")
        return lines


def test_message(address: str, hostname: str, token: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"casegate verify <verify@{hostname}>"
    message["To"] = address
    message["Subject"] = f"Test message from casegate verify ({token})"
    message["Date"] = format_datetime(localtime())
    message["Message-ID"] = signed_test_message_id(hostname)  # so the desk opens its case
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"A test message sent by `casegate verify` to {address}, to check"
                        " that mail to it reaches its destination. It can be deleted.\n")
    return message.as_bytes()


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self.start, 3)


def verify(address: str, smtp_host: str, smtp_port: int, hostname: str,
           timeout: float = 30.0, keep: bool = False) -> Verification:
    """Send the test message to ``address`` and follow it, then remove the case or lead and
    the mailbox copies it made unless ``keep``; never raises for a failed hop."""
    result = Verification(address)
    clock = _Clock()
    deadline = time.monotonic() + timeout
    token = secrets.token_hex(8)
    queue_id = _send(result, clock, address, smtp_host, smtp_port, hostname, token)
    if queue_id is None:
        return result
    deliveries = _routed(result, clock, queue_id, deadline)
    if deliveries is None:
        return result
    if _delivered(result, clock, deliveries, deadline):
        filed = [d for d in deliveries if d.kind == DeliveryKind.DESK]
        _filed(result, clock, queue_id, filed, deadline, keep)
    if not keep:
        # Not delivered in time: the worker must not file it after the cleanup.
        waiting = list(Delivery.objects.filter(
            message_id=queue_id, state__in=(DeliveryState.PENDING, DeliveryState.DEFERRED))
            .values_list("pk", flat=True))
        abandoned = act_on_queue("delete", waiting, "casegate verify gave up waiting for it") \
            if waiting else 0
        result.removed = _remove_traces(queue_id, deliveries)
        if abandoned:
            result.removed.append(f"{abandoned} deliveries not made in time")
    return result


def _remove_traces(queue_id: str, deliveries: list[Delivery]) -> list[str]:
    """What the test message made that outlives the test: its case or lead, and its copies
    in local mailboxes (what left for other hosts is theirs)."""
    removed = remove_test_conversations(queue_id)
    mailbox_root = get_config().mailbox_root
    for delivery in deliveries:
        if delivery.kind == DeliveryKind.MAILBOX and maildir.remove(
                maildir.mailbox_path(mailbox_root, delivery.recipient),
                f"{queue_id}.{delivery.pk}"):
            removed.append(f"the copy in {delivery.recipient}'s mailbox")
    return removed


def _fail(result: Verification, clock: _Clock, hop: str, why: str) -> None:
    result.hops.append(Hop(hop, False, clock.now(), why))
    result.failure = f"{hop}: {why}"


def _send(result: Verification, clock: _Clock, address: str, host: str, port: int,
          hostname: str, token: str) -> str | None:
    try:
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.ehlo(hostname)
            client.mail("")
            code, reply = client.rcpt(address)
            if code != 250:
                _fail(result, clock, "accepted", _("RCPT TO refused: %(reply)s")
                      % {"reply": f"{code} {reply.decode()}"})
                return None
            code, reply = client.data(test_message(address, hostname, token))
    except (OSError, smtplib.SMTPException) as exc:
        _fail(result, clock, "accepted", _("cannot talk SMTP to %(host)s:%(port)s: %(error)s")
              % {"host": host, "port": port, "error": exc})
        return None
    text = reply.decode(errors="replace")
    if code != 250:
        _fail(result, clock, "accepted", _("DATA refused: %(reply)s") % {"reply": f"{code} {text}"})
        return None
    queue_id = text.rsplit(" ", 1)[-1]
    result.hops.append(Hop("accepted", True, clock.now(), f"{code} {text}"))
    return queue_id


def _wait(deadline: float, check: Any) -> Any:
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _routed(result: Verification, clock: _Clock, queue_id: str, deadline: float
            ) -> list[Delivery] | None:
    held = list(Quarantine.objects.filter(message_id=queue_id))
    if held:
        _fail(result, clock, "routed", _("quarantined: %(reason)s") % {"reason": held[0].reason})
        return None
    deliveries = list(Delivery.objects.filter(message_id=queue_id).order_by("id"))
    if not deliveries:
        _fail(result, clock, "routed", _("message %(id)s has no deliveries") % {"id": queue_id})
        return None
    rules = sorted({rule for d in deliveries for rule in d.rules})
    targets = ", ".join(f"{d.recipient} ({d.kind})" for d in deliveries)
    detail = (_("rule %(rules)s applied; to %(targets)s")
              % {"rules": ", ".join(f"#{r}" for r in rules), "targets": targets} if rules
              else _("no rule applied (a recognized address); to %(targets)s")
              % {"targets": targets})
    result.hops.append(Hop("routed", True, clock.now(), detail))
    return deliveries


def _delivered(result: Verification, clock: _Clock, deliveries: list[Delivery],
               deadline: float) -> bool:
    ids = [d.pk for d in deliveries]

    def settled() -> list[Delivery] | None:
        current = list(Delivery.objects.filter(pk__in=ids).order_by("id"))
        if all(d.state in (DeliveryState.DELIVERED, *FINAL_FAILURES, DeliveryState.DELETED)
               for d in current):
            return current
        return None

    final = _wait(deadline, settled)
    if final is None:
        pending = [d for d in Delivery.objects.filter(pk__in=ids)
                   if d.state != DeliveryState.DELIVERED]
        last = "; ".join(f"{d.recipient}: {d.state}" + (
            _(", last reply %(reply)s") % {"reply": d.last_reply} if d.last_reply else "")
            for d in pending)
        _fail(result, clock, "delivered", _("timeout waiting for delivery (%(state)s)")
              % {"state": last})
        return False
    ok = True
    for delivery in final:
        where = delivery.last_reply or delivery.kind
        if delivery.state == DeliveryState.DELIVERED:
            result.hops.append(Hop("delivered", True, clock.now(),
                                   f"{delivery.recipient}: {where}"))
        else:
            _fail(result, clock, "delivered", f"{delivery.recipient} {delivery.state}: {where}")
            ok = False
    return ok


def _filed(result: Verification, clock: _Clock, queue_id: str, desk: list[Delivery],
           deadline: float, keep: bool) -> None:
    if not desk:
        return
    message = _wait(deadline, lambda: DeskMessage.objects.filter(queue_id=queue_id).first())
    if message is None:
        _fail(result, clock, "case opened", _("the desk has no message from this delivery"))
        return
    if message.case_id:
        detail = (_("case %(id)s (casegate cases show %(id)s)") if keep
                  else _("case %(id)s, removed after the test")) % {"id": message.case_id}
    else:
        detail = (_("lead %(id)s (casegate leads show %(id)s)") if keep
                  else _("lead %(id)s, removed after the test")) % {"id": message.lead_id}
    result.hops.append(Hop("case opened", True, clock.now(), detail))
