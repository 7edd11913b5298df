"""Mail handed over by the company's own mail server: LMTP (TCP or a Unix socket) and
``casegate deliver`` (a pipe), each filed at the desk as SMTP mail is."""

from __future__ import annotations

import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mails import mail
from tests.support import Instance, free_port, instance

SUPPORT = "help@solarmora.com"


@pytest.fixture(scope="module")
def desk(backend: str) -> Iterator[tuple[Instance, int, Path]]:
    """The demo (help@ opens cases), listening for LMTP on a port and a Unix socket."""
    with instance(backend) as inst:
        inst.run("demo")
        lmtp_port = free_port()
        inst.start(False, 1, "--lmtp", f"127.0.0.1:{lmtp_port}")
        socket_path = inst.home / "lmtp.sock"
        second = inst.spawn("serve", "--smtp", f"127.0.0.1:{free_port()}", "--no-worker",
                            "--processes", "1", "--lmtp", f"unix:{socket_path}", name="lmtp")
        inst.wait_for(socket_path.exists, what="the LMTP socket")
        try:
            yield inst, lmtp_port, socket_path
        finally:
            second.terminate()
            second.wait(30)


def test_lmtp_answers_each_recipient_and_files_a_case(desk) -> None:
    inst, port, _ = desk
    data, message_id = mail(subject="Handed over by LMTP", sender="ann@customer.example",
                            to=SUPPORT)
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo_or_helo_if_needed()
        client.mail("ann@customer.example")
        assert client.rcpt(SUPPORT)[0] == 250
        code, reply = client.rcpt("nobody@solarmora.com")
        assert (code, reply[:5]) == (550, b"5.1.1")
        assert client.rcpt("sales@solarmora.com")[0] == 250
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(data.replace(b"\n.", b"\n..") + b"\r\n.\r\n")
        replies = [client.getreply() for _ in range(2)]  # one per accepted recipient
    assert [code for code, _ in replies] == [250, 250]
    case = inst.case_with(message_id)
    assert case["subject"] == "Handed over by LMTP"
    received = inst.sql("SELECT source, raw FROM gateway_message"
                        f" WHERE message_id = '{message_id}'")
    assert received[0][0] == "lmtp" and b"with LMTP" in bytes(received[0][1])


def test_lmtp_answers_each_recipient_also_when_the_message_is_refused(desk) -> None:
    inst, port, _ = desk
    data, _ = mail(subject="A line too long", sender="ann@customer.example", to=SUPPORT)
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo_or_helo_if_needed()
        client.mail("ann@customer.example")
        assert client.rcpt(SUPPORT)[0] == 250
        assert client.rcpt("sales@solarmora.com")[0] == 250
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(data + b"x" * 1200 + b"\r\n.\r\n")
        replies = [client.getreply() for _ in range(2)]  # aiosmtpd's own refusal, twice
        assert client.noop() == (250, b"2.0.0 OK")  # and nothing more was owed
    assert [(code, reply[:5]) for code, reply in replies] == [(500, b"5.5.2")] * 2
    assert not [c for c in inst.cases() if c["subject"] == "A line too long"]


def test_lmtp_on_a_unix_socket(desk) -> None:
    inst, _, socket_path = desk
    data, message_id = mail(subject="Over the socket", sender="bob@customer.example",
                            to=SUPPORT)
    with smtplib.LMTP(str(socket_path), timeout=30) as client:
        refused = client.sendmail("bob@customer.example", [SUPPORT], data)
    assert refused == {}
    assert inst.case_with(message_id)["subject"] == "Over the socket"


def test_lmtp_refuses_ehlo(desk) -> None:
    _, port, _ = desk
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        code, reply = client.ehlo("client.example")
    assert code == 500 and b"LHLO" in reply


def deliver(inst: Instance, data: bytes, *recipients: str) -> subprocess.CompletedProcess[bytes]:
    to = [word for r in recipients for word in ("--to", r)]
    return subprocess.run([sys.executable, "-m", "casegate", "deliver", *to,
                           "--sender", "carl@customer.example"], input=data, env=inst.env,
                          capture_output=True, timeout=120)


def test_deliver_files_a_case_from_a_pipe(desk) -> None:
    inst = desk[0]
    data, message_id = mail(subject="Piped in", sender="carl@customer.example", to=SUPPORT)
    # as Postfix's local(8) pipes it from a .forward: an mbox envelope line first, bare LFs
    envelope = b"From carl@customer.example  Mon Jan  1 10:00:00 2024\n"
    done = deliver(inst, envelope + data.replace(b"\r\n", b"\n"), SUPPORT)
    assert done.returncode == 0, done.stderr
    assert b"queued as" in done.stdout
    assert inst.case_with(message_id)["subject"] == "Piped in"
    [(raw,)] = inst.sql(f"SELECT raw FROM gateway_message WHERE message_id = '{message_id}'")
    assert b"From carl@customer.example  Mon" not in bytes(raw)
    assert bytes(raw).endswith(data)


def test_deliver_measures_the_message_as_stored_with_crlf(desk) -> None:
    inst = desk[0]
    limit = 2000
    data, _ = mail(subject="Lines", sender="carl@customer.example", to=SUPPORT,
                   body="x\r\n" * 700)
    bare = data.replace(b"\r\n", b"\n")
    assert len(bare) <= limit < len(data)
    done = subprocess.run([sys.executable, "-m", "casegate", "deliver", "--to", SUPPORT],
                          input=bare, env={**inst.env, "CASEGATE_MAX_MESSAGE_SIZE": str(limit)},
                          capture_output=True, timeout=120)
    assert done.returncode == 65 and b"552 5.3.4" in done.stderr


def test_deliver_exit_status_tells_the_mail_server_what_to_do(desk) -> None:
    inst = desk[0]
    data, _ = mail(subject="Nobody", sender="carl@customer.example", to="nobody@solarmora.com")
    unknown = deliver(inst, data, "nobody@solarmora.com")
    assert unknown.returncode == 67 and b"5.1.1" in unknown.stderr
    elsewhere = deliver(inst, data, "someone@elsewhere.example")
    assert elsewhere.returncode == 69 and b"Relay access denied" in elsewhere.stderr
