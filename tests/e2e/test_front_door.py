"""The SMTP front door under load and at its limits, and the addresses RFC 5321 requires."""

from __future__ import annotations

import json
import resource
import socket
import urllib.request
from collections.abc import Iterator

import pytest

from tests.mails import mail
from tests.support import Instance, free_port, instance, smtp_sink

CROWD = 1200
ALEX = "alex@solarmora.com"


def raise_open_file_limit(needed: int) -> None:
    """This process holds every client socket of a test: let it have enough of them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the open-file limit is {hard}; this test needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def health(inst: Instance) -> dict[str, str]:
    url = f"http://127.0.0.1:{inst.http_port}/api/health"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def connect(inst: Instance, source: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    """A connection from ``source`` and the server's first reply to it."""
    sock = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30,
                                    source_address=(source, 0))
    return sock, sock.makefile("rb").readline()


def session(inst: Instance) -> socket.socket:
    """A connection greeted with 220, once the sessions an earlier test closed are gone
    (the server may accept a new connection before it reads the old ones' ends)."""
    def greeted_now() -> socket.socket | None:
        sock, greeting = connect(inst)
        if greeting.startswith(b"220 "):
            return sock
        sock.close()
        return None

    return inst.wait_for(greeted_now, what="a session greeted with 220")


def greeted(inst: Instance, source: str, count: int) -> list[socket.socket]:
    """``count`` connections from ``source``, each greeted with 220."""
    socks = []
    for _ in range(count):
        sock, greeting = connect(inst, source)
        socks.append(sock)
        assert greeting.startswith(b"220 ")
    return socks


def delivered(inst: Instance, address: str, msgid: str) -> list[bytes]:
    return inst.wait_for(lambda: [m for m in inst.mailbox(address) if msgid.encode() in m],
                         what=f"{msgid} in the mailbox of {address}")


@pytest.fixture(scope="module")
def crowd(backend: str) -> Iterator[Instance]:
    with instance(backend, CASEGATE_MAX_SESSIONS=str(CROWD + 100),
                  CASEGATE_ABUSE="soc@ops.example") as inst:
        inst.run("demo")
        inst.start(http=True)
        yield inst


@pytest.fixture(scope="module")
def limited(backend: str) -> Iterator[Instance]:
    with instance(backend, CASEGATE_MAX_SESSIONS="4", CASEGATE_MAX_SESSIONS_PER_CLIENT="2",
                  CASEGATE_TRUSTED_NETWORKS="192.0.2.0/24",
                  CASEGATE_RECIPIENT_RATE="1") as inst:
        inst.run("demo")
        inst.start(processes=1)  # the limits are counted by each gateway process
        yield inst


def test_the_console_and_api_answer_while_many_smtp_connections_are_open(
        crowd: Instance) -> None:
    raise_open_file_limit(CROWD + 200)
    sockets = []
    try:
        for _ in range(CROWD):
            sock, greeting = connect(crowd)
            sockets.append(sock)
            assert greeting.startswith(b"220 "), greeting
        assert health(crowd) == {"status": "ok"}
    finally:
        for sock in sockets:
            sock.close()
    assert health(crowd) == {"status": "ok"}
    data, msgid = mail(subject="after the crowd", to=ALEX)
    crowd.send("a@example.net", [ALEX], data)
    delivered(crowd, ALEX, msgid)
    assert "out of range" not in crowd.log_path.read_text()


def test_connections_beyond_the_limits_get_421_with_the_reason(limited: Instance) -> None:
    held = []
    try:
        held += greeted(limited, "127.0.0.1", 2)
        sock, refusal = connect(limited, "127.0.0.1")
        assert refusal == (b"421 4.7.0 Too many connections from 127.0.0.1: at most 2 at once;"
                           b" try again later\r\n")
        assert sock.recv(100) == b""  # and closed
        sock.close()
        held += greeted(limited, "127.0.0.2", 2)
        sock, refusal = connect(limited, "127.0.0.3")
        assert refusal == (b"421 4.7.0 Too many connections: this server takes at most 4 at"
                           b" once; try again later\r\n")
        sock.close()
        held.pop().close()
        limited.wait_for(lambda: connect(limited, "127.0.0.3")[1].startswith(b"220 "),
                         what="a place freed by a closed session")
    finally:
        for sock in held:
            sock.close()
    assert "smtp=refused client=127.0.0.1 reason=Too many connections from 127.0.0.1" in (
        limited.log_path.read_text())


def replies(sock: socket.socket, commands: list[bytes]) -> list[bytes]:
    """The replies to ``commands``, pipelined, up to the end of the session."""
    sock.sendall(b"".join(c + b"\r\n" for c in commands))
    sock.settimeout(30)
    return [line for line in sock.makefile("rb").read().split(b"\r\n") if line]


def test_a_client_refused_20_times_without_a_message_is_disconnected(
        limited: Instance) -> None:
    sock = session(limited)
    with sock:
        answered = replies(sock, [b"EHLO client.example.net", b"MAIL FROM:<a@example.net>",
                                  *[b"RCPT TO:<nobody%d@solarmora.com>" % n for n in range(25)]])
    refusals = [line for line in answered if line.startswith(b"550 ")]
    assert len(refusals) == 20 and answered[-1] == (
        b"421 4.7.0 Too many errors: closing the connection"), answered[-3:]
    assert "smtp=disconnected client=127.0.0.1 reason=too_many_errors errors=20" in (
        limited.log_path.read_text())


def test_recipients_past_the_limit_are_refused_without_ending_the_session(
        limited: Instance) -> None:
    # A mailer sending one message to 130 recipients gets 452 for the last 30 and sends
    # them in another transaction (RFC 5321 4.5.3.1.10); it is not a client in error.
    sock = session(limited)
    with sock:
        answered = replies(sock, [b"EHLO client.example.net", b"MAIL FROM:<a@example.net>",
                                  *[b"RCPT TO:<help@solarmora.com>"] * 130, b"RSET", b"QUIT"])
    assert sum(line.startswith(b"452 4.5.3") for line in answered) == 30
    assert answered[-1].startswith(b"221"), answered[-3:]


def test_after_100_noops_each_one_counts_as_an_error(limited: Instance) -> None:
    sock = session(limited)
    with sock:
        answered = replies(sock, [b"EHLO client.example.net", *[b"NOOP"] * 130])
    assert answered.count(b"250 2.0.0 OK") == 120 and answered[-1].startswith(b"421 4.7.0")
    # A message handed over starts the count again.
    with limited.smtp() as client:
        client.ehlo("client.example.net")
        for _ in range(110):
            client.noop()
        data, _ = mail(subject="after the noops", to="help@solarmora.com")
        client.sendmail("a@example.net", ["help@solarmora.com"], data)
        assert all(client.noop()[0] == 250 for _ in range(110))


def test_sessions_that_stop_after_rcpt_leave_a_recipient_s_allowance(
        limited: Instance) -> None:
    for _ in range(2):
        with limited.smtp() as client:
            client.ehlo("client.example.net")
            client.mail("a@example.net")
            assert client.rcpt(ALEX)[0] == 250
    data, _ = mail(subject="the one a minute", to=ALEX)
    limited.send("a@example.net", [ALEX], data)
    with limited.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        code, reply = client.rcpt(ALEX)
    assert code == 451 and reply.startswith(b"4.7.1 <alex@solarmora.com>: this address")


def test_postmaster_and_abuse_of_every_domain_are_accepted_and_delivered(
        crowd: Instance) -> None:
    crowd.run("domain", "add", "second.example")
    unset, _ = mail(subject="before any postmaster address", to="postmaster")
    queue_id = crowd.send("a@example.net", ["postmaster"], unset)
    assert [q for q in crowd.json("quarantine", "list") if q["queue_id"] == queue_id]
    crowd.run("user", "add", "chief", "--role", "super", "--email", ALEX,
              "--password", "not-used-here")
    for rcpt in ("postmaster", "PostMaster", "postmaster@solarmora.com",
                 "postmaster@second.example"):
        data, msgid = mail(subject=f"to {rcpt}", to=rcpt)
        crowd.send("a@example.net", [rcpt], data)
        assert b"X-Original-To: " + rcpt.lower().encode() in delivered(crowd, ALEX, msgid)[0]
    port = free_port()
    crowd.run("transport", "add", "ops.example", f"127.0.0.1:{port}")
    with smtp_sink(port) as (_, soc):
        for rcpt in ("abuse@solarmora.com", "abuse@second.example"):
            data, _ = mail(subject=f"to {rcpt}", to=rcpt)
            crowd.send("a@example.net", [rcpt], data)
        crowd.wait_for(lambda: len(soc.messages) == 2, what="both at the abuse desk")
    assert [rcpts for _, rcpts, _ in soc.messages] == [["soc@ops.example"]] * 2
    assert {raw.split(b"X-Original-To: ")[1].split(b"\r\n")[0] for _, _, raw in soc.messages
            } == {b"abuse@solarmora.com", b"abuse@second.example"}


def test_a_message_with_bare_lf_line_ends_is_accepted_with_crlf(crowd: Instance) -> None:
    _, msgid = mail()
    lines = ["From: a@example.net", f"To: {ALEX}", "Subject: bare LF", f"Message-ID: {msgid}",
             "", *(f"line {n} " + "x" * 60 for n in range(40)), ".starts with a dot"]
    with crowd.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        client.rcpt(ALEX)
        code, _ = client.docmd("DATA")
        assert code == 354
        client.send(("\n".join(lines) + "\r\n.\r\n").encode())
        code, reply = client.getreply()
    assert code == 250, reply
    stored = delivered(crowd, ALEX, msgid)[0]
    body = stored.split(b"\r\n\r\n", 1)[1]
    assert body.split(b"\r\n")[:-1] == [line.encode() for line in lines[5:]]
    assert b"\n" not in stored.replace(b"\r\n", b"")


@pytest.mark.parametrize("ending", ["\n.\n", "\n.\r\n", "\r\n.\n"])
def test_only_crlf_dot_crlf_ends_a_message_with_bare_lfs(crowd: Instance, ending: str) -> None:
    _, msgid = mail()
    smuggled = (f"From: a@example.net\r\nSubject: outer\r\nMessage-ID: {msgid}\r\n\r\nfirst"
                f"{ending}MAIL FROM:<evil@example.net>\r\nRCPT TO:<{ALEX}>\r\nDATA\r\n"
                "Subject: smuggled\r\n\r\nsecond\r\n.\r\n")
    with crowd.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        client.rcpt(ALEX)
        assert client.docmd("DATA")[0] == 354
        client.send(smuggled.encode())
        code, reply = client.getreply()
        assert code == 250 and b"queued as" in reply
        assert client.noop() == (250, b"2.0.0 OK")  # no reply to a smuggled command is due
    stored = delivered(crowd, ALEX, msgid)[0]
    assert b"first\r\n.\r\nMAIL FROM:<evil@example.net>\r\n" in stored


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_a_line_over_998_characters_is_refused_as_too_long(crowd: Instance,
                                                          newline: str) -> None:
    with crowd.smtp() as client:
        client.ehlo("client.example.net")
        client.mail("a@example.net")
        client.rcpt(ALEX)
        assert client.docmd("DATA")[0] == 354
        client.send(f"Subject: long{newline}{newline}{'x' * 1500}\r\n.\r\n".encode())
        code, reply = client.getreply()
        assert (code, reply) == (
            500, b"5.5.2 Line too long: at most 998 characters per line (RFC 5321 4.5.3.1.6)")
        assert client.noop() == (250, b"2.0.0 OK")
