"""``casegate import``: old mail filed at the desk as live mail is, in date order, quietly, once.

The shared corpus is imported as an mbox, a Maildir and a folder of .eml files built from it
at test time (the corpus is read from ``../shared/corpus/`` and never copied into the repo).
"""

from __future__ import annotations

import json
import mailbox
import os
import random
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_corpus import CORPUS
from tests.mails import mail
from tests.support import Instance, RecordingHandler, free_port, instance, smtp_sink

SUPPORT = "support@solarmora.com"
AGENT = "agent@agents.example"


@pytest.fixture(scope="module")
def desk(backend: str) -> Iterator[tuple[Instance, RecordingHandler]]:
    """The demo with an acknowledging intake behind support@ and an agent who is notified;
    mail to the customers' and the agent's domains lands in a sink."""
    port = free_port()
    with instance(backend) as inst, smtp_sink(port) as (_, sink):
        inst.run("demo")
        intake = inst.run("desk", "intake", "add", "--kind", "case", "--acknowledge",
                          "--address", "acked@desk.solarmora.com").stdout.strip()
        inst.run("rule", "add", "--match", SUPPORT, "--replace-recipient", intake)
        inst.run("agent", "add", AGENT)
        for domain in ("customer.example", "agents.example"):
            inst.run("transport", "add", domain, f"127.0.0.1:{port}")
        inst.start()
        yield inst, sink


def run_import(inst: Instance, *args: str, check: bool = True) -> dict[str, Any]:
    done = inst.run("import", *args, "--to", SUPPORT, "--json", check=False)
    assert done.returncode in ((0,) if check else (0, 1)), done.stderr
    return json.loads(done.stdout)


def all_filed(inst: Instance) -> bool:
    return not inst.sql("SELECT 1 FROM delivery_delivery WHERE state NOT IN ('delivered')")


def cases(inst: Instance) -> set[tuple[Any, ...]]:
    return {(c["subject"], c["requester"], c["message_id"], c["received_at"])
            for c in inst.cases()}


def counts(inst: Instance) -> tuple[int, ...]:
    return tuple(inst.sql(f"SELECT COUNT(*) FROM {table}")[0][0] for table in (
        "gateway_message", "desk_case", "desk_deskmessage", "desk_suspendedmessage"))


def nothing_sent(inst: Instance, sink: RecordingHandler) -> None:
    """No acknowledgement, notification, bounce or copy: the import made no mail at all."""
    assert inst.sql("SELECT COUNT(*) FROM delivery_delivery WHERE kind <> 'desk'") == [(0,)]
    assert sink.messages == []


def corpus_messages() -> list[bytes]:
    if not CORPUS.is_dir():
        print(f"SKIP import of the corpus: no shared corpus at {CORPUS}")
        pytest.skip(f"no shared corpus at {CORPUS}")
    return [p.read_bytes() for p in sorted(CORPUS.rglob("*.eml"))]


def test_the_corpus_as_mbox_maildir_and_files_gives_the_same_cases_and_no_mail(
        desk, tmp_path: Path) -> None:
    inst, sink = desk
    messages = corpus_messages()
    box = mailbox.mbox(tmp_path / "corpus.mbox")
    for content in messages:  # an mbox is a text file of LF lines
        box.add(re.sub(rb"\r\n|\r", b"\n", content))
    box.flush()
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for content in messages:
        maildir.add(content)

    first = run_import(inst, str(tmp_path / "corpus.mbox"))
    assert first["total"] == len(messages) and first["refused"] == []
    assert first["broken"] == [] and first["imported"] > 0
    # The corpus has the same messages with other line endings: one message each.
    assert first["imported"] + first["already_stored"] == len(messages)
    inst.wait_for(lambda: all_filed(inst), timeout=120, what="the import filed")
    filed, stored = cases(inst), counts(inst)
    assert filed

    for way in (tmp_path / "Maildir", CORPUS, tmp_path / "corpus.mbox"):
        again = run_import(inst, str(way))
        assert (again["imported"], again["already_stored"]) == (0, len(messages)), way
    assert cases(inst) == filed and counts(inst) == stored
    nothing_sent(inst, sink)


def test_replies_thread_onto_their_cases_whatever_the_file_order(desk, tmp_path: Path) -> None:
    inst, sink = desk
    start = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)
    originals, replies = [], []
    for n in range(300):
        sent = start + timedelta(minutes=n)
        content, message_id = mail(
            subject=f"Old question {n}", sender=f"c{n}@customer.example", to=SUPPORT,
            headers={"Date": format_datetime(sent)})
        originals.append((content, message_id, sent))
        replies.append(mail(subject=f"Re: Old question {n}", sender=f"c{n}@customer.example",
                            to=SUPPORT, headers={"Date": format_datetime(sent + timedelta(
                                days=1)), "In-Reply-To": message_id,
                                "References": message_id})[0])
    shuffled = [o[0] for o in originals] + replies
    random.Random(7).shuffle(shuffled)
    box = mailbox.mbox(tmp_path / "history.mbox")
    for content in shuffled:
        box.add(content)
    box.flush()

    report = run_import(inst, str(tmp_path / "history.mbox"))
    assert (report["imported"], report["already_stored"]) == (600, 0)
    inst.wait_for(lambda: all_filed(inst), timeout=120, what="the import filed")
    by_message_id = {c["message_id"]: c for c in inst.cases()}
    for _, message_id, sent in originals:
        case = by_message_id[message_id]
        assert case["received_at"] == case["created_at"] == sent.isoformat()
    threads: dict[str, list[str]] = {}
    for case_subject, subject in inst.sql(
            "SELECT c.subject, m.subject FROM desk_deskmessage m JOIN desk_case c"
            " ON m.case_id = c.id WHERE c.subject LIKE '%Old question %' ORDER BY m.id"):
        threads.setdefault(case_subject, []).append(subject)
    assert threads == {f"Old question {n}": [f"Old question {n}", f"Re: Old question {n}"]
                       for n in range(300)}
    nothing_sent(inst, sink)


def test_a_broken_file_is_reported_with_its_path_and_skipped(desk, tmp_path: Path) -> None:
    inst, _ = desk
    good, message_id = mail(subject="Kept from the old folder", sender="d@customer.example",
                            to=SUPPORT)
    (tmp_path / "good.eml").write_bytes(good)
    (tmp_path / "broken.eml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    done = inst.run("import", str(tmp_path), "--to", SUPPORT, check=False)
    assert done.returncode == 1
    assert (f"broken: {tmp_path / 'broken.eml'}: not a message: it does not start with"
            " header fields") in done.stderr
    assert re.search(r"2 messages: 1 imported, 0 already there, 0 refused, 1 broken",
                     done.stdout)
    assert inst.case_with(message_id)["subject"] == "Kept from the old folder"


def test_mail_this_host_relayed_long_ago_is_history_not_a_loop(desk, tmp_path: Path) -> None:
    inst, _ = desk
    relayed, message_id = mail(subject="Relayed last year", sender="e@customer.example",
                               to=SUPPORT, headers={"X-Casegate-Loop": "gw.test"})
    hops = "".join(f"Received: from hop{n}.example by hop{n + 1}.example; Mon, 1 Jan 2024"
                   " 10:00:00 +0000\r\n" for n in range(60))
    (tmp_path / "relayed.eml").write_bytes(relayed)
    (tmp_path / "far.eml").write_bytes(hops.encode() + mail(
        subject="Came a long way", sender="e@customer.example", to=SUPPORT)[0])
    done = run_import(inst, str(tmp_path))
    assert (done["imported"], done["refused"]) == (2, []), done
    assert inst.case_with(message_id)["subject"] == "Relayed last year"


def test_a_message_is_measured_as_stored_with_crlf(desk, tmp_path: Path) -> None:
    inst, _ = desk
    data, _ = mail(subject="Lines", sender="f@customer.example", to=SUPPORT,
                   body="x\r\n" * 700)
    bare = data.replace(b"\r\n", b"\n")
    limit = 2000
    assert len(bare) <= limit < len(data)
    (tmp_path / "lines.eml").write_bytes(bare)
    done = subprocess.run([sys.executable, "-m", "casegate", "import", str(tmp_path), "--to",
                           SUPPORT, "--json"], capture_output=True, text=True, timeout=120,
                          env={**inst.env, "CASEGATE_MAX_MESSAGE_SIZE": str(limit)})
    assert done.returncode == 1
    assert json.loads(done.stdout)["refused"][0]["reply"].startswith("552 5.3.4 Message too big")


def test_a_wrong_path_or_an_address_that_takes_no_mail_stops_before_anything_is_stored(
        desk, tmp_path: Path) -> None:
    inst, _ = desk
    message, _ = mail(subject="Never stored", sender="g@customer.example", to=SUPPORT)
    (tmp_path / "good.eml").write_bytes(message)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4\n")
    stored = inst.sql("SELECT COUNT(*) FROM gateway_message")
    wrong_path = inst.run("import", str(tmp_path / "good.eml"), str(tmp_path / "notes.pdf"),
                          "--to", SUPPORT, check=False)
    assert wrong_path.returncode == 1
    assert wrong_path.stderr.strip() == (
        f"casegate: {tmp_path / 'notes.pdf'}: neither an mbox (which starts with a 'From '"
        " line) nor a message (which starts with header fields)")
    nobody = inst.run("import", str(tmp_path / "good.eml"), "--to", "nobody@solarmora.com",
                      check=False)
    assert nobody.returncode == 1 and "550 5.1.1 <nobody@solarmora.com>" in nobody.stderr
    assert inst.sql("SELECT COUNT(*) FROM gateway_message") == stored


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(desk, tmp_path: Path) -> None:
    inst, _ = desk
    box = mailbox.mbox(tmp_path / "big.mbox")
    total = 2000
    for n in range(total):
        box.add(mail(subject=f"Archived {n}", sender=f"e{n}@customer.example", to=SUPPORT,
                     body="x" * 2000)[0])
    box.flush()

    def stored() -> int:
        return inst.sql("SELECT COUNT(*) FROM gateway_message WHERE subject LIKE 'Archived %'"
                        )[0][0]

    running = subprocess.Popen(
        [sys.executable, "-m", "casegate", "import", str(tmp_path / "big.mbox"), "--to",
         SUPPORT, "--json"], env=inst.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while stored() == 0 and running.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    stopped = json.loads(out)
    assert stopped["interrupted"] and 0 < stopped["imported"] < total
    assert stored() == stopped["imported"]

    rest = run_import(inst, str(tmp_path / "big.mbox"))
    assert not rest["interrupted"]
    assert (rest["imported"], rest["already_stored"]) == (total - stopped["imported"],
                                                          stopped["imported"])
    assert stored() == total


def test_a_terminal_shows_a_progress_bar_with_the_rate_and_the_time_left(
        desk, tmp_path: Path) -> None:
    inst, _ = desk
    box = mailbox.mbox(tmp_path / "small.mbox")
    for n in range(40):
        box.add(mail(subject=f"Shown {n}", sender=f"f{n}@customer.example", to=SUPPORT)[0])
    box.flush()
    leader, follower = os.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "casegate", "import", str(tmp_path / "small.mbox"), "--to",
         SUPPORT], env={**inst.env, "COLUMNS": "120"}, stdout=subprocess.PIPE,
        stderr=follower, timeout=120)
    os.close(follower)
    shown = b""
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert done.returncode == 0
    bar = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))
    assert re.search(r"importing [━ ]+40/40 [1-9][\d,]* messages/s 0:00:00", bar), bar
    assert b"40 messages: 40 imported" in done.stdout
