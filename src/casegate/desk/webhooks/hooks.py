"""The webhooks as data: adding, changing, removing, pausing and resuming them, the checks
of what is written (the name, an http or https URL, the events), and the set of them kept
like the triggers (:data:`WEBHOOKS`: versions, rollback, a YAML file).

.. code-block:: yaml

    webhooks:
      - name: billing
        url: https://billing.example/hooks/casegate
        events: [case_created, satisfaction_rated]

A file need not carry the secrets: a webhook it keeps keeps its own, a new one gets a new
one, told once. Pausing is the webhook's state, not its settings: it is in no version.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from casegate.config import get_config
from casegate.desk.automation.vocabulary import TriggerEvent
from casegate.desk.models import Webhook, WebhookAttempt, WebhookCall, WebhookVersion
from casegate.desk.named_sets import NamedSet
from casegate.desk.references import by_number_or_name
from casegate.desk.rule_files import RuleError, refuse_unknown_keys
from casegate.desk.vocabulary import WebhookCallState

SECRET_PREFIX = "whsec_"
_SHOWN_SECRET_END = 4


class WebhookError(RuleError):
    """A webhook cannot be saved or changed as asked."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def masked_secret(secret: str) -> str:
    """What lists show of a secret: only enough of its end to tell two apart."""
    return f"{SECRET_PREFIX}…{secret[-_SHOWN_SECRET_END:]}"


# NAT64's well-known prefix (RFC 6052), whose last 32 bits are an IPv4 address, and its
# local-use prefix (RFC 8215), which reaches whatever its operator put behind it.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def is_private_address(address: str) -> bool:
    """Whether an IP address is inside (loopback, private, link-local, reserved...): a
    webhook there could reach what the desk's host reaches but the internet does not. An
    IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by it."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL or ip.is_site_local:
            return True
        carried = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if carried is None and ip in _NAT64:
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        ip = carried or ip
    return not ip.is_global or ip.is_multicast


def check_url(url: Any) -> str:
    """An http or https URL with a host; a literal address inside, or ``localhost``, only
    when ``CASEGATE_WEBHOOK_PRIVATE_TARGETS`` allows (names are checked again at each
    connection, on the address reached)."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("a webhook needs a URL: https://receiver.example/hooks/casegate")
    url = url.strip()
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise WebhookError("a webhook's URL has no spaces, control or non-ASCII characters "
                           "(percent-encode them, and write an international domain in "
                           "its xn-- form)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{url!r} is not an http or https URL with a host")
    if len(url) > 2000 or parts.username or parts.password:
        raise WebhookError("a webhook's URL is at most 2000 characters, without a user or "
                           "password (the signature proves the sender)")
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise WebhookError(f"{url!r} has no valid port") from None
    if not get_config().webhook_private_targets and _names_inside(parts.hostname):
        raise WebhookError(f"{parts.hostname} is an address inside this network; set "
                           "CASEGATE_WEBHOOK_PRIVATE_TARGETS=1 to allow such targets")
    return url


def _names_inside(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return is_private_address(host)
    except ValueError:  # a name: checked at each connection
        return False


def check_events(events: Any) -> list[str]:
    """The events a webhook is sent; none: only the triggers' ``webhook`` actions call it."""
    events = [events] if isinstance(events, str) else events
    if not isinstance(events, list):
        raise WebhookError(f"a webhook's events are a list of {', '.join(TriggerEvent.values)}")
    for event in events:
        if event not in TriggerEvent.values:
            raise WebhookError(f"an event is one of {', '.join(TriggerEvent.values)}, not "
                               f"{event!r}")
    return list(dict.fromkeys(events))


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise WebhookError("a webhook needs a name of at most 100 characters")
    return name.strip()


def find_webhook(reference: str | int) -> Webhook:
    """A webhook by its number or its name."""
    found = by_number_or_name(Webhook.objects.all(), reference)
    if found is None:
        raise WebhookError(f"there is no webhook {str(reference).strip()!r}; see: casegate "
                           "webhook list")
    return found


@dataclass(frozen=True)
class WebhookSpec:
    """A webhook's settings as written; ``secret`` empty: its own, or a new one."""

    name: str
    url: str
    events: list[str] = field(default_factory=list)
    secret: str = ""

    @property
    def key(self) -> str:
        return self.name

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "url": self.url, "events": self.events}
        if self.secret:
            shown["secret"] = self.secret
        return shown


_KEYS = ("name", "url", "events", "secret")


def check_webhook(data: Any) -> WebhookSpec:
    """A webhook's settings as a file or a version holds them, checked."""
    if not isinstance(data, dict):
        raise WebhookError("a webhook is a mapping of name, url, events")
    refuse_unknown_keys(data, _KEYS, "a webhook", WebhookError)
    secret = data.get("secret") or ""
    if secret and (not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX)
                   or not 16 <= len(secret) <= 200):
        raise WebhookError(f"a webhook's secret is {SECRET_PREFIX} and 10 to 194 more "
                           "characters (leave it out for a new one)", data)
    return WebhookSpec(check_name(data.get("name")), check_url(data.get("url")),
                       check_events(data.get("events") or []), secret)


def _stored() -> list[WebhookSpec]:
    return [WebhookSpec(w.name, w.url, list(w.events), w.secret)
            for w in Webhook.objects.all()]


def _write(specs: list[WebhookSpec]) -> list[str]:
    """Make the webhooks exactly ``specs``: the others removed with their waiting events,
    those of the same name changed in place (their events kept waiting)."""
    Webhook.objects.exclude(name__in=[spec.name for spec in specs]).delete()
    existing = {w.name: w for w in Webhook.objects.all()}
    notes = []
    for spec in specs:
        webhook = existing.get(spec.name)
        if webhook is None:
            secret = spec.secret or new_secret()
            Webhook.objects.create(name=spec.name, url=spec.url, events=spec.events,
                                   secret=secret)
            if not spec.secret:
                notes.append(f"webhook {spec.name!r}: secret (shown only now) {secret}")
            continue
        webhook.url, webhook.events = spec.url, spec.events
        webhook.secret = spec.secret or webhook.secret
        webhook.save()
    return notes


WEBHOOKS: NamedSet[WebhookSpec] = NamedSet(
    "webhook", "webhooks", WebhookVersion, check_webhook, _stored, _write, hidden=("secret",))


@dataclass(frozen=True)
class Created:
    """A new webhook and its secret, shown this once."""

    webhook: Webhook
    secret: str


@transaction.atomic
def add_webhook(name: Any, url: Any, events: Any) -> Created:
    name = check_name(name)
    if Webhook.objects.filter(name=name).exists():
        raise WebhookError(f"there is a webhook named {name!r} already")
    secret = new_secret()
    webhook = Webhook.objects.create(name=name, url=check_url(url), events=check_events(events),
                                     secret=secret)
    WEBHOOKS.record(f"add {name}")
    return Created(webhook, secret)


@transaction.atomic
def change_webhook(reference: str | int, name: Any = None, url: Any = None,
                   events: Any = None) -> Webhook:
    """Change what is given (None: unchanged)."""
    webhook = find_webhook(reference)
    if name is not None:
        name = check_name(name)
        if Webhook.objects.filter(name=name).exclude(pk=webhook.pk).exists():
            raise WebhookError(f"there is a webhook named {name!r} already")
        webhook.name = name
    if url is not None:
        webhook.url = check_url(url)
    if events is not None:
        webhook.events = check_events(events)
    webhook.save()
    WEBHOOKS.record(f"edit {webhook.name}")
    return webhook


@transaction.atomic
def remove_webhook(reference: str | int) -> Webhook:
    """Remove a webhook with its waiting events and its attempts."""
    webhook = find_webhook(reference)
    webhook.delete()
    WEBHOOKS.record(f"remove {webhook.name}")
    return webhook


def pause(webhook_id: int, reason: str) -> int:
    """Pause a webhook that is not paused yet; 1 if it was."""
    return Webhook.objects.filter(pk=webhook_id, paused_at__isnull=True).update(
        paused_at=timezone.now(), paused_reason=reason[:500], updated_at=timezone.now())


@transaction.atomic
def pause_webhook(reference: str | int, reason: str = "") -> Webhook:
    webhook = find_webhook(reference)
    pause(webhook.pk, reason.strip() or "paused by hand")
    webhook.refresh_from_db()
    return webhook


@transaction.atomic
def resume_webhook(reference: str | int) -> Webhook:
    """Resume a paused webhook: its waiting events are due at once, its failures forgotten."""
    webhook = find_webhook(reference)
    now = timezone.now()
    Webhook.objects.filter(pk=webhook.pk).update(
        paused_at=None, paused_reason="", failures=0, failing_since=None, updated_at=now)
    WebhookCall.objects.filter(webhook=webhook, state=WebhookCallState.PENDING).update(
        due_at=now)
    webhook.refresh_from_db()
    return webhook


def webhook_dict(webhook: Webhook, waiting: int | None = None) -> dict[str, Any]:
    """A webhook as the API and the command line show it: the secret masked."""
    if waiting is None:
        waiting = webhook.calls.filter(state=WebhookCallState.PENDING).count()
    return {"id": webhook.pk, "name": webhook.name, "url": webhook.url,
            "events": webhook.events, "secret": masked_secret(webhook.secret),
            "paused": webhook.paused_at is not None,
            "paused_at": webhook.paused_at.isoformat() if webhook.paused_at else None,
            "paused_reason": webhook.paused_reason, "failures": webhook.failures,
            "waiting": waiting}


def attempts(webhook: Webhook | None = None, limit: int = 50) -> list[WebhookAttempt]:
    """The latest attempts, of one webhook or of all, newest first."""
    found = WebhookAttempt.objects.select_related("webhook")
    if webhook is not None:
        found = found.filter(webhook=webhook)
    return list(found.order_by("-at", "-id")[:limit])


def attempt_dict(attempt: WebhookAttempt) -> dict[str, Any]:
    return {"id": attempt.pk, "webhook": attempt.webhook.name, "event": attempt.event,
            "delivery": attempt.delivery_id, "at": attempt.at.isoformat(),
            "status": attempt.status, "error": attempt.error,
            "seconds": round(attempt.seconds, 3), "outcome": attempt.outcome}
