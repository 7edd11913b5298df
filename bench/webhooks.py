"""Webhook cost: desk intake with webhooks subscribed to every new case against none, and
how fast the worker's job posts a backlog to receivers on loopback.

    .venv/bin/python bench/webhooks.py [--messages 400] [--webhooks 3] [--rounds 4]
        [--events 2000] [--receivers 4] [--backlog 100000] [--database-url postgresql://...]

A scratch ``$CASEGATE_HOME`` (SQLite unless ``--database-url``), set up as
``bench/triggers.py`` sets it up.

Part 1, intake: ``--messages`` new messages filed the way the delivery worker files them
(batches of 10), with no webhook, then with ``--webhooks`` webhooks subscribed to
``case_created`` (each message writes that many outbox rows in the filing transaction);
``--rounds`` rounds, each starting with the other; the ratio is of the medians. Target:
with webhooks at least 0.9x the messages per second without.

Part 2, sending: ``--events`` events waiting for ``--receivers`` webhooks (one HTTP
server each on loopback, answering 200 at once) are posted by the job's rounds
(``send_due`` until nothing is due: claim, sign, post, record each attempt); events per
second, signed and recorded.

Part 3, a waiting backlog: ``--backlog`` events for a paused webhook and as many for one
whose oldest event waits for its retry, beside a webhook with nothing to send; the
worker's clock looks for events due every second (``_anything_due``) and a claim finds
none: milliseconds of each, the median of 20.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from triggers import compare_intake, setup

TARGET_INTAKE = 0.9


class _Accepting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def use_webhooks(count: int) -> None:
    from casegate.desk.models import Webhook
    from casegate.desk.webhooks.hooks import add_webhook

    Webhook.objects.all().delete()
    for n in range(count):
        add_webhook(f"bench{n}", f"https://receiver{n}.example/hook", ["case_created"])


def _with_webhooks(count: int) -> Callable[[], str]:
    def prepare() -> str:
        use_webhooks(count)
        return "Panel dark"

    return prepare


def intake(args: argparse.Namespace) -> None:
    compare_intake(args, {
        "no webhook": _with_webhooks(0),
        f"{args.webhooks} webhooks on case_created": _with_webhooks(args.webhooks),
    }, TARGET_INTAKE, "webhooks")


def sending(args: argparse.Namespace) -> None:
    from casegate.desk.models import Webhook, WebhookCall
    from casegate.desk.webhooks.hooks import add_webhook
    from casegate.desk.webhooks.outbox import webhook_call
    from casegate.desk.webhooks.sending import send_due

    Webhook.objects.all().delete()
    with ExitStack() as stack:
        hooks = [add_webhook(f"receiver{n}", stack.enter_context(receiver()), []).webhook
                 for n in range(args.receivers)]
        body = {"event": "case_created", "timestamp": "2026-01-01T00:00:00+00:00",
                "case": {"id": 1, "subject": "Panel dark " * 10}, "message": None,
                "changed": [], "by": None}
        WebhookCall.objects.bulk_create(
            [webhook_call(hooks[n % len(hooks)].pk, body, 1) for n in range(args.events)],
            batch_size=500)
        started = time.perf_counter()
        while send_due():
            pass
        seconds = time.perf_counter() - started
    delivered = WebhookCall.objects.filter(state="delivered").count()
    assert delivered == args.events, delivered
    print(f"\nsending: {args.events} events to {args.receivers} receivers on loopback: "
          f"{seconds:.2f} s, {args.events / seconds:.0f} events/s (each signed, posted and "
          "its attempt recorded)")


def backlog(args: argparse.Namespace) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from casegate.desk.models import Webhook, WebhookCall
    from casegate.desk.webhooks.hooks import add_webhook
    from casegate.desk.webhooks.outbox import webhook_call
    from casegate.desk.webhooks.sending import _anything_due, claim_due

    Webhook.objects.all().delete()
    paused, waiting, _idle = (add_webhook(name, "https://receiver.example/hook", []).webhook
                              for name in ("paused", "waiting", "idle"))
    body = {"event": "case_created", "case": {"id": 1}}
    WebhookCall.objects.bulk_create(
        [webhook_call(hook.pk, body, 1) for hook in (paused, waiting)
         for _ in range(args.backlog)], batch_size=500)
    Webhook.objects.filter(pk=paused.pk).update(paused_at=timezone.now())
    oldest = WebhookCall.objects.filter(webhook=waiting).order_by("id")[:1]
    WebhookCall.objects.filter(pk__in=oldest).update(
        due_at=timezone.now() + timedelta(hours=1))

    def median_ms(look: Callable[[], object]) -> float:
        times = []
        for _ in range(20):
            started = time.perf_counter()
            look()
            times.append(1000 * (time.perf_counter() - started))
        return sorted(times)[10]

    assert not _anything_due() and claim_due() == []
    print(f"\nbacklog: {args.backlog} events paused and {args.backlog} waiting behind a retry:"
          f" a look for events due {median_ms(_anything_due):.2f} ms,"
          f" a claim {median_ms(claim_due):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--webhooks", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--receivers", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    os.environ["CASEGATE_WEBHOOK_PRIVATE_TARGETS"] = "1"  # the receivers are on loopback
    setup(args.database_url)
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}")
    intake(args)
    sending(args)
    backlog(args)


if __name__ == "__main__":
    main()
