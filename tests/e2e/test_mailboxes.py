"""Mailbox accounts against a real Dovecot (tests/dovecot): a folder of 200 messages, one
broken and one oversized, fetched over IMAP and over POP3 into cases; IDLE; a fetcher killed
mid-round; a server that goes away and comes back; OAuth2 tokens; a changed UIDVALIDITY."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dovecot_server import Dovecot, running_dovecot
from tests.mails import mail
from tests.support import Instance, instance

SUPPORT = "help@solarmora.com"
MESSAGES = 200  # the acceptance figure: 198 stored, one broken, one oversized
MAX_SIZE = 256 * 1024
QUICK = {"CASEGATE_MAILBOX_POLL": "1", "CASEGATE_MAILBOX_RETRY_MAX": "1",
         "CASEGATE_MAX_MESSAGE_SIZE": str(MAX_SIZE), "CASEGATE_SET_ASIDE_AFTER": "2"}
BROKEN = b"this line is no header field\r\n\r\nand this is no message either\r\n"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def desk(backend: str) -> Iterator[Instance]:
    """The demo (help@ opens cases) served with its worker and mailbox fetcher."""
    with instance(backend, **QUICK) as inst:
        inst.run("demo")
        inst.start(False, 1)
        yield inst


def folder_of(count: int, tag: str) -> tuple[list[bytes], list[str], dict[str, str]]:
    """``count`` messages: every fourth a reply to the one before it, one broken (the 50th)
    and one over the size limit (the 120th). The stored ones' Message-IDs, and each reply's
    original."""
    messages: list[bytes] = []
    stored: list[str] = []
    replies: dict[str, str] = {}
    for number in range(count):
        if number == 49:
            messages.append(BROKEN)
            continue
        if number == 119:
            big, _ = mail(subject=f"{tag} too big", body="x" * (MAX_SIZE + 1000))
            messages.append(big)
            continue
        headers = {}
        subject = f"{tag} question {number}"
        if number % 4 == 3 and stored and stored[-1] not in replies:
            original = stored[-1]
            headers = {"In-Reply-To": original, "References": original}
            subject = f"Re: {tag} question {number - 1}"
        data, message_id = mail(subject=subject, sender=f"customer{number}@example.net",
                                to="desk@mail.example", headers=headers)
        messages.append(data)
        stored.append(message_id)
        if headers:
            replies[message_id] = headers["In-Reply-To"]
    return messages, stored, replies


def add(inst: Instance, name: str, server: Dovecot, user: str, *options: str,
        pop3: bool = False) -> None:
    secret = inst.home / f"{name}.password"
    secret.write_text(server.users[user] + "\n")
    protocol = ["--pop3", f"127.0.0.1:{server.pop3_port}"] if pop3 else \
        ["--imap", f"127.0.0.1:{server.imap_port}"]
    inst.run("mailbox", "add", name, *protocol, "--tls", "none", "--user", user,
             "--password-file", str(secret), "--deliver-to", SUPPORT, *options)


def status(inst: Instance, name: str) -> dict:
    return next(row for row in inst.json("mailbox", "list") if row["name"] == name)


def conversations(inst: Instance, message_ids: list[str]) -> dict[str, int]:
    """Each filed message's case."""
    rows = inst.sql("SELECT message_id, case_id FROM desk_deskmessage WHERE direction ="
                    " 'inbound'")
    wanted = set(message_ids)
    return {message_id: case for message_id, case in rows if message_id in wanted}


def check_filed(inst: Instance, stored: list[str], replies: dict[str, str]) -> None:
    filed = inst.wait_for(lambda: (found := conversations(inst, stored))
                          and len(found) == len(stored) and found, timeout=120,
                          what=f"{len(stored)} messages filed")
    for reply, original in replies.items():
        assert filed[reply] == filed[original], "a reply threads onto its case"
    assert len(set(filed.values())) == len(stored) - len(replies)
    origins = inst.sql("SELECT count(*), count(DISTINCT message_id) FROM gateway_message"
                       " WHERE source = 'mailbox'")
    assert origins[0][0] == origins[0][1], "no message stored twice"


def imap_folder(server: Dovecot, user: str, folder: str = "INBOX") -> list[bytes]:
    client = server.imap(user)
    try:
        client.select(folder, readonly=True)
        _, data = client.uid("FETCH", "1:*", "(FLAGS)")
        return [line for line in data if isinstance(line, bytes)]
    finally:
        client.logout()


def test_an_imap_folder_becomes_cases_and_is_moved_as_after_fetch_says(
        desk: Instance, dovecot: Dovecot) -> None:
    user = f"imap-{desk.backend}"
    dovecot.add_user(user, "imap-secret")
    messages, stored, replies = folder_of(MESSAGES, f"IMAP {desk.backend}")
    dovecot.write_maildir(user, messages)
    client = dovecot.imap(user)
    client.create("Archive")
    client.logout()
    add(desk, "imap-support", dovecot, user, "--after-fetch", "move:Archive")
    # The round's success is recorded after its last batch: "ok" once the round is over.
    row = desk.wait_for(lambda: (s := status(desk, "imap-support"))["fetched"] == len(stored)
                        and s["set_aside"] == 2 and s["state"] == "ok" and s, timeout=120,
                        what="the folder fetched")
    assert row["last_success_at"]
    reasons = sorted(m["reason"] for m in row["set_aside_messages"])
    assert "over the limit" in reasons[0] and reasons[1].startswith("not a message")
    check_filed(desk, stored, replies)
    assert len(imap_folder(dovecot, user)) == 2, "the two set aside stay in the INBOX"
    assert len(imap_folder(dovecot, user, "Archive")) == len(stored)


def test_a_pop3_maildrop_becomes_cases_and_is_emptied_as_after_fetch_says(
        desk: Instance, dovecot: Dovecot) -> None:
    user = f"pop3-{desk.backend}"
    dovecot.add_user(user, "pop3-secret")
    messages, stored, replies = folder_of(MESSAGES, f"POP3 {desk.backend}")
    dovecot.write_maildir(user, messages)
    add(desk, "pop3-support", dovecot, user, "--after-fetch", "delete", pop3=True)
    desk.wait_for(lambda: (s := status(desk, "pop3-support"))["fetched"] == len(stored)
                  and s["set_aside"] == 2 and s["state"] == "ok", timeout=120,
                  what="the maildrop fetched")
    check_filed(desk, stored, replies)
    desk.wait_for(lambda: len(imap_folder(dovecot, user)) == 2, what="the stored ones deleted")
    time.sleep(2.5)  # more rounds: the two set aside are not fetched again
    assert status(desk, "pop3-support")["fetched"] == len(stored)


def test_a_message_added_while_idle_becomes_a_case_within_two_seconds(
        desk: Instance, dovecot: Dovecot) -> None:
    user = f"idle-{desk.backend}"
    dovecot.add_user(user, "idle-secret")
    add(desk, "idle-support", dovecot, user)
    desk.wait_for(lambda: status(desk, "idle-support")["state"] == "ok", what="the first round")
    time.sleep(1)  # in IDLE by now
    data, message_id = mail(subject="Arrives while idle", to="desk@mail.example")
    started = time.monotonic()
    dovecot.append(user, [data])
    desk.wait_for(lambda: conversations(desk, [message_id]), timeout=10, what="the case")
    assert time.monotonic() - started < 2.0
    case = conversations(desk, [message_id])[message_id]
    assert "Arrives while idle" in str(desk.sql(f"SELECT subject FROM desk_case WHERE id = {case}"))


def test_pause_and_resume(desk: Instance, dovecot: Dovecot) -> None:
    user = f"pause-{desk.backend}"
    dovecot.add_user(user, "pause-secret")
    add(desk, "pause-support", dovecot, user)
    desk.wait_for(lambda: status(desk, "pause-support")["state"] == "ok", what="the first round")
    desk.run("mailbox", "pause", "pause-support")
    time.sleep(3)  # the fetcher lets it go
    data, message_id = mail(subject="While paused", to="desk@mail.example")
    dovecot.append(user, [data])
    time.sleep(2)
    assert status(desk, "pause-support")["state"] == "paused"
    assert not conversations(desk, [message_id])
    desk.run("mailbox", "resume", "pause-support")
    desk.wait_for(lambda: conversations(desk, [message_id]), what="the case after resume")


@pytest.fixture(scope="module")
def unserved(backend: str) -> Iterator[Instance]:
    with instance(backend, **QUICK) as inst:
        inst.run("demo")
        yield inst


@pytest.fixture
def alone(unserved: Instance) -> Iterator[Instance]:
    """A database with the demo and no serve: the test runs ``casegate fetch`` itself. The
    test's mailboxes are removed after it."""
    yield unserved
    for row in unserved.json("mailbox", "list"):
        unserved.run("mailbox", "remove", row["name"])


def stored_origins(inst: Instance, name: str) -> list[tuple[str, str]]:
    """The origin and Message-ID of each message stored from the mailbox ``name``."""
    number = inst.sql(f"SELECT id FROM mailboxes_mailbox WHERE name = '{name}'")[0][0]
    return inst.sql("SELECT origin, message_id FROM gateway_message"
                    f" WHERE origin LIKE 'mailbox:{number}:%'")


def test_a_fetcher_killed_mid_round_loses_nothing_and_stores_nothing_twice(
        alone: Instance, dovecot: Dovecot) -> None:
    user = f"kill-{alone.backend}"
    dovecot.add_user(user, "kill-secret")
    messages = [mail(subject=f"Killed {n}", to="desk@mail.example")[0] for n in range(300)]
    dovecot.write_maildir(user, messages)
    add(alone, "kill-support", dovecot, user, "--after-fetch", "seen")
    chance = random.Random(15)
    kills = 0
    while len(stored_origins(alone, "kill-support")) < len(messages) and kills < 6:
        fetcher = alone.spawn("fetch", name="fetch")
        time.sleep(chance.uniform(1.5, 3.0))  # Django's start, then somewhere in a round
        fetcher.send_signal(signal.SIGKILL)
        fetcher.wait(30)
        kills += 1
    assert alone.run("fetch", "--once", check=False).returncode == 0
    origins = stored_origins(alone, "kill-support")
    assert len(origins) == len(messages), "none lost"
    assert len({message_id for _, message_id in origins}) == len(messages), "none twice"
    flags = imap_folder(dovecot, user)
    assert len(flags) == len(messages) and all(b"\\Seen" in line for line in flags)


def test_a_server_that_goes_away_shows_its_error_and_its_mail_comes_after(
        alone: Instance) -> None:
    with running_dovecot() as server:
        server.add_user("outage", "outage-secret")
        add(alone, "outage-support", server, "outage")
        fetcher = alone.spawn("fetch", name="fetch")
        try:
            alone.wait_for(lambda: status(alone, "outage-support")["state"] == "ok",
                           what="the first round")
            server.stop()
            row = alone.wait_for(lambda: "cannot reach 127.0.0.1" in (
                s := status(alone, "outage-support"))["last_error"] and s, timeout=30,
                what="the error shown")
            assert row["state"] == "failing" and row["last_error_at"]
            data, message_id = mail(subject="Sent during the outage", to="desk@mail.example")
            server.write_maildir("outage", [data])
            time.sleep(3)
            server.start()
            alone.wait_for(lambda: message_id in {
                m for _, m in stored_origins(alone, "outage-support")},
                timeout=30, what="the mail sent during the outage")
            alone.wait_for(lambda: status(alone, "outage-support")["state"] == "ok",
                           what="the mailbox ok again")
        finally:
            fetcher.send_signal(signal.SIGTERM)
            assert fetcher.wait(60) == 0


def test_xoauth2_with_a_token_from_a_command(alone: Instance, dovecot: Dovecot) -> None:
    user = f"oauth-{alone.backend}"
    dovecot.add_user(user, "unused")
    dovecot.write_maildir(user, [mail(subject="Over OAuth2", to="desk@mail.example")[0]])
    token = dovecot.token_for(user)
    for protocol, port in (("--imap", dovecot.imap_port), ("--pop3", dovecot.pop3_port)):
        name = f"oauth{protocol}"
        alone.run("mailbox", "add", name, protocol, f"127.0.0.1:{port}", "--tls", "none",
                  "--user", user, "--oauth2-token-command", f"echo {token}",
                  "--deliver-to", SUPPORT)
        assert "INBOX holds 1 messages" in alone.run("mailbox", "test", name).stdout
        wrong = f"wrong{protocol}"
        alone.run("mailbox", "add", wrong, protocol, f"127.0.0.1:{port}", "--tls", "none",
                  "--user", user, "--oauth2-token-command", "echo not-a-token",
                  "--deliver-to", SUPPORT)
        refused = alone.run("mailbox", "test", wrong, check=False)
        assert refused.returncode == 1
        assert f"127.0.0.1:{port} refused the login" in refused.stderr
    alone.run("fetch", "--once", check=False)
    rows = {row["name"]: row for row in alone.json("mailbox", "list")}
    assert rows["oauth--imap"]["fetched"] == 1 and rows["oauth--imap"]["state"] == "ok"
    assert rows["oauth--pop3"]["state"] == "ok"  # the same message: already stored
    for name in ("wrong--imap", "wrong--pop3"):
        assert rows[name]["state"] == "failing"
        assert "refused the login" in rows[name]["last_error"]
    assert "not-a-token" not in str(rows) and token not in str(rows)


def test_a_changed_uidvalidity_imports_only_what_is_new(alone: Instance,
                                                        dovecot: Dovecot) -> None:
    user = f"uidvalidity-{alone.backend}"
    dovecot.add_user(user, "uv-secret")
    dovecot.write_maildir(user, [mail(subject=f"Before {n}", to="desk@mail.example")[0]
                                 for n in range(5)])
    add(alone, "uv-support", dovecot, user)
    alone.run("fetch", "--once")
    before = status(alone, "uv-support")
    assert before["fetched"] == 5
    for index in (dovecot.mail / user).glob("dovecot*"):  # the server forgets its UIDs
        index.unlink()
    data, message_id = mail(subject="After the change", to="desk@mail.example")
    dovecot.write_maildir(user, [data])
    alone.run("fetch", "--once")
    assert len(stored_origins(alone, "uv-support")) == 6
    assert message_id in {m for _, m in stored_origins(alone, "uv-support")}
    assert status(alone, "uv-support")["fetched"] == 6


def test_mailbox_add_refuses_what_cannot_work(alone: Instance, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("x")
    base = ["mailbox", "add", "bad", "--user", "u", "--password-file", str(secret),
            "--deliver-to", SUPPORT]
    for options, reason in (
            (["--pop3", "mail.example", "--after-fetch", "seen"], "keep or delete"),
            (["--imap", "mail.example", "--after-fetch", "move"], "move takes a folder"),
            (["--imap", "mail.example:99999"], "server")):
        refused = alone.run(*base, *options, check=False)
        assert refused.returncode == 1 and reason in refused.stderr, refused.stderr
    assert "bad" not in {row["name"] for row in alone.json("mailbox", "list")}


@pytest.mark.parametrize("pop3", [False, True], ids=["imap", "pop3"])
def test_a_message_the_server_cannot_read(alone: Instance, dovecot: Dovecot,
                                          pop3: bool) -> None:
    """IMAP: set aside after its attempts, the others fetched. POP3: Dovecot then fails
    UIDL for the whole maildrop, which no client can get past: the error is shown."""
    user = f"unreadable-{'pop3' if pop3 else 'imap'}-{alone.backend}"
    dovecot.add_user(user, "unreadable-secret")
    dovecot.write_maildir(user, [mail(subject=f"Readable {n}", to="desk@mail.example")[0]
                                 for n in range(4)])
    client = dovecot.imap(user)  # Dovecot takes the files in: their names stay as they are
    client.select("INBOX")
    client.logout()
    os.chmod(sorted((dovecot.mail / user).glob("*/*casegate-tests*"))[1], 0)
    add(alone, "unreadable", dovecot, user, pop3=pop3)
    fetcher = alone.spawn("fetch", name="fetch")
    try:
        if pop3:
            row = alone.wait_for(lambda: (s := status(alone, "unreadable"))["failures"] > 1
                                 and s, timeout=60, what="the error shown")
            assert "failed UIDL: -ERR [SYS/TEMP]" in row["last_error"]
            assert row["state"] == "failing"
            return
        row = alone.wait_for(lambda: (s := status(alone, "unreadable"))["set_aside"] == 1
                             and s["fetched"] == 3 and s, timeout=60,
                             what="three fetched and one set aside")
    finally:
        fetcher.send_signal(signal.SIGTERM)
        fetcher.wait(60)
    assert "cannot be fetched after 2 attempts" in row["set_aside_messages"][0]["reason"]


def test_the_shared_corpus_over_imap_each_stored_or_set_aside_with_its_reason(
        alone: Instance, dovecot: Dovecot) -> None:
    """Every file of the shared third-party corpus (tests/e2e/test_corpus.py) in one folder:
    each one is stored or set aside with a reason, and the mailbox ends in good health."""
    from tests.e2e.test_corpus import CORPUS, corpus_files

    files = corpus_files()
    if not files:
        print(f"SKIP: no shared corpus at {CORPUS}")
        pytest.skip(f"no shared corpus at {CORPUS}")
    user = f"corpus-{alone.backend}"
    dovecot.add_user(user, "corpus-secret")
    dovecot.write_maildir(user, [path.read_bytes() for path in files])
    add(alone, "corpus", dovecot, user)
    assert alone.run("fetch", "--once", check=False).returncode == 0
    row = status(alone, "corpus")
    assert row["state"] == "ok", row["last_error"]
    assert row["fetched"] + row["set_aside"] == len(files)
    assert all(m["reason"] for m in row["set_aside_messages"])
    assert len(stored_origins(alone, "corpus")) == row["fetched"]
