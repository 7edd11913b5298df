"""The company's own Postfix hands mail to casegate: over LMTP (a ``transport`` entry) and
through ``casegate deliver`` (a ``pipe`` service). A recipient casegate does not know is a
permanent failure for Postfix, which bounces it to the sender."""

from __future__ import annotations

import email
import os
import shutil
import smtplib
import sys
import time
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import pytest

from tests.mails import mail
from tests.postfix import POSTFIX, PostfixInstance
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink

HELP = "help@solarmora.com"
CUSTOMER = "ann@customer.example"
EXPORTED = ("CASEGATE_HOME", "CASEGATE_DATABASE_URL", "CASEGATE_HOSTNAME")

# Postfix's pipe runs the command as an unprivileged user, who must reach this Python.
PIPE_USER = "nobody"


def _unavailable() -> str:
    if not Path(POSTFIX).exists():
        return f"Postfix is not installed ({POSTFIX} is missing)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (queue ownership)"
    return ""


pytestmark = pytest.mark.skipif(bool(_unavailable()), reason=_unavailable() or "-")


def _python_reachable_by_pipe_user() -> str:
    """Why the pipe user cannot run this Python, or ``""``."""
    path = Path(sys.executable).resolve()
    for folder in path.parents:
        if not folder.stat().st_mode & 0o001:
            return (f"Postfix's pipe runs commands as {PIPE_USER}, who cannot enter {folder}"
                    " (the test command makes it traversable)")
    return ""


@pytest.fixture(scope="module")
def handover(backend: str) -> Iterator[tuple[Instance, RecordingHandler, PostfixInstance]]:
    """casegate with the demo (LMTP on a port) behind a private Postfix: mail for
    solarmora.com goes to casegate over LMTP, for pipe.solarmora.com through casegate
    deliver; mail back to customer.example reaches a sink."""
    with instance(backend) as inst, smtp_sink() as (sink, customers):
        inst.run("demo")
        inst.run("domain", "add", "pipe.solarmora.com")
        intake = inst.run("desk", "intake", "add", "--kind", "case",
                          "--address", "piped@desk.solarmora.com").stdout.strip()
        inst.run("rule", "add", "--match", "help@pipe.solarmora.com", "--replace-recipient",
                 intake)
        # The pipe's command runs as PIPE_USER and writes the embedded database too.
        shutil.chown(inst.home, PIPE_USER)
        for path in inst.home.rglob("*"):
            shutil.chown(path, PIPE_USER)
        lmtp = free_port()
        inst.start(False, 1, "--lmtp", f"127.0.0.1:{lmtp}")
        env = " ".join(f"{k}={inst.env[k]}" for k in EXPORTED if k in inst.env)
        postfix = PostfixInstance(
            free_port(),
            {"transport": f"solarmora.com lmtp:inet:127.0.0.1:{lmtp}\n"
                          "pipe.solarmora.com casegate:\n"
                          f"customer.example smtp:[127.0.0.1]:{sink.port}\n"},
            main=("relay_domains = solarmora.com pipe.solarmora.com\n"
                  f"import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C {env}\n"
                  f"export_environment = TZ MAIL_CONFIG LANG {' '.join(EXPORTED)}\n"
                  "casegate_destination_recipient_limit = 1\n"
                  "bounce_queue_lifetime = 0\n"),
            services=("casegate  unix  -       n       n       -       -       pipe\n"
                      f"  flags=q user={PIPE_USER} argv={sys.executable} -m casegate deliver"
                      " --to ${recipient} --sender ${sender}\n"),
        )
        try:
            postfix.start()
            yield inst, customers, postfix
        finally:
            postfix.close()


def send_through_postfix(postfix: PostfixInstance, to: str, subject: str) -> str:
    data, message_id = mail(subject=subject, sender=f"Ann <{CUSTOMER}>", to=to)
    with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=30) as client:
        client.sendmail(CUSTOMER, [to], data)
    return message_id


def bounces(customers: RecordingHandler) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=default)
            for sender, rcpts, raw in customers.messages
            if rcpts == [CUSTOMER] and sender in ("", "<>")]


def test_postfix_hands_mail_over_lmtp(handover) -> None:
    inst, _, postfix = handover
    message_id = send_through_postfix(postfix, HELP, "Via Postfix and LMTP")
    assert inst.case_with(message_id, timeout=30)["subject"] == "Via Postfix and LMTP"
    assert inst.sql("SELECT source FROM gateway_message"
                    f" WHERE message_id = '{message_id}'") == [("lmtp",)]


def test_postfix_bounces_an_unknown_recipient_refused_over_lmtp(handover) -> None:
    _, customers, postfix = handover
    send_through_postfix(postfix, "nobody@solarmora.com", "Nobody here")
    report = postfix_bounce(postfix, customers, "nobody@solarmora.com")
    assert "5.1.1" in report


def test_postfix_pipes_mail_to_casegate_deliver(handover) -> None:
    inst, _, postfix = handover
    unreachable = _python_reachable_by_pipe_user()
    if unreachable:
        pytest.skip(unreachable)
    message_id = send_through_postfix(postfix, "help@pipe.solarmora.com", "Via the pipe")
    case = inst.wait_for(lambda: next((c for c in inst.cases()
                                       if c["message_id"] == message_id), None),
                         timeout=30, what=f"a case for {message_id}\n{postfix.log_tail()}")
    assert case["subject"] == "Via the pipe"


def test_postfix_bounces_an_unknown_recipient_of_the_pipe(handover) -> None:
    _, customers, postfix = handover
    unreachable = _python_reachable_by_pipe_user()
    if unreachable:
        pytest.skip(unreachable)
    send_through_postfix(postfix, "nobody@pipe.solarmora.com", "Nobody piped")
    assert "5.1.1" in postfix_bounce(postfix, customers, "nobody@pipe.solarmora.com")


def postfix_bounce(postfix: PostfixInstance, customers: RecordingHandler, rcpt: str) -> str:
    """The text of Postfix's bounce to the customer about ``rcpt``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for report in bounces(customers):
            if rcpt in report.as_string():
                return report.as_string()
        time.sleep(0.2)
    raise AssertionError(f"no bounce about {rcpt}\n{postfix.log_tail(30)}")
