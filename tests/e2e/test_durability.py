"""What was acknowledged survives a kill -9; what was not acknowledged leaves nothing."""

from __future__ import annotations

import fcntl
import socket
import threading
import time

from tests.mails import mail
from tests.support import instance


def test_kill9_right_after_250_then_restart_keeps_every_case(backend: str) -> None:
    with instance(backend) as inst:
        inst.run("demo")
        inst.start()
        sent = []
        for n in range(5):
            data, msgid = mail(subject=f"before the crash {n}")
            inst.send("dana@example.net", ["help@solarmora.com"], data)
            sent.append(msgid)
        inst.kill9()
        inst.start()
        for msgid in sent:
            inst.case_with(msgid)
        cases = inst.cases()
        assert sorted(c["message_id"] for c in cases) == sorted(sent)


def test_session_dropped_mid_data_leaves_nothing(backend: str) -> None:
    with instance(backend) as inst:
        inst.run("demo")
        inst.start()
        with inst.raw_session_in_data() as (sock, _):
            sock.sendall(b"Subject: cut off\r\n\r\nhalf a message")
            sock.shutdown(socket.SHUT_RDWR)
        time.sleep(0.5)
        assert inst.sql("SELECT count(*) FROM gateway_message") == [(0,)]
        assert inst.sql("SELECT count(*) FROM delivery_delivery") == [(0,)]
        assert inst.cases() == []
        assert inst.stop() == 0


def test_sigterm_lets_an_open_transaction_finish_and_exits_0(backend: str) -> None:
    with instance(backend) as inst:
        inst.run("demo")
        inst.start()
        data, msgid = mail(subject="sent during shutdown")
        client = inst.smtp()
        client.ehlo("c.example.net")
        client.mail("a@example.net")
        client.rcpt("help@solarmora.com")
        assert inst.process is not None
        stopper = threading.Thread(target=lambda: inst.process.terminate())
        stopper.start()
        time.sleep(0.3)
        code, _ = client.data(data)
        client.quit()
        stopper.join()
        assert code == 250
        assert inst.process.wait(timeout=60) == 0
        inst.process = None
        inst.start()
        inst.case_with(msgid)


def test_a_second_worker_on_sqlite_is_refused_with_the_reason() -> None:
    with instance("sqlite") as inst:
        inst.run("demo")
        inst.start()

        def first_worker_holds_the_lock() -> bool:
            with open(inst.home / "worker.lock", "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(lock, fcntl.LOCK_UN)
                return False

        inst.wait_for(first_worker_holds_the_lock, what="serve's worker to take the lock")
        second = inst.run("worker", check=False)  # waits a few seconds for the lock first
        assert second.returncode != 0
        assert "another delivery worker already runs" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
