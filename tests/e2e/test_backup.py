"""``casegate backup`` while mail flows, ``restore`` into a new home, ``upgrade``; servers
refuse a database a newer casegate changed."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from tests.mails import mail
from tests.support import Instance, instance, scratch_database, send_until_acknowledged

MESSAGES = 1000


def _cases_by_message_id(inst: Instance) -> set[str]:
    return {case["message_id"] for case in inst.cases()}


def test_a_backup_taken_while_mail_flows_restores_every_acknowledged_message(
        backend: str) -> None:
    # One sender opens them all: no loop limit, no acknowledgements.
    with instance(backend, CASEGATE_LOOP_LIMIT="0", CASEGATE_ACK_LIMIT="0") as inst:
        inst.run("demo")
        inst.start()
        messages = [mail(subject=f"flowing {n}")[::-1] for n in range(MESSAGES)]
        acknowledged: list[str] = []
        sender = threading.Thread(target=send_until_acknowledged, kwargs={
            "ports": [inst.smtp_port], "rcpt": "help@solarmora.com", "threads": 4,
            "messages": [(msgid, data) for msgid, data in messages],
            "acknowledged": acknowledged})
        sender.start()
        inst.wait_for(lambda: len(acknowledged) >= MESSAGES // 4, timeout=120,
                      what="a quarter of the messages acknowledged")
        before = set(acknowledged)
        backup = Path(tempfile.mkdtemp(prefix="casegate-backup-")) / "backup"
        try:
            printed = inst.run("backup", str(backup)).stdout
            during = len(acknowledged) - len(before)
            sender.join()
            assert len(acknowledged) == MESSAGES
            assert printed.startswith("backed up casegate ") and backend in printed
            assert inst.run("backup", str(backup), check=False).returncode == 1

            with scratch_database(backend, backup) as url:
                home = Path(tempfile.mkdtemp(prefix=f"casegate-restored-{backend}-"))
                env = {**inst.env, "CASEGATE_HOME": str(home)}
                env.pop("CASEGATE_DATABASE_URL", None)
                if url:
                    env["CASEGATE_DATABASE_URL"] = url
                restored = Instance(home, env, backend)
                try:
                    if url:  # the database of the installation backed up is not empty
                        occupied = Instance(home, {**env, "CASEGATE_DATABASE_URL":
                                                   inst.env["CASEGATE_DATABASE_URL"]}, backend)
                        refused = occupied.run("restore", str(backup), check=False)
                        assert "has tables already" in refused.stderr
                    refused = restored.run("restore", str(backup), check=False)
                    assert refused.returncode == 0, refused.stderr
                    restored.run("upgrade")
                    again = restored.run("restore", str(backup), check=False)
                    assert again.returncode == 1 and "is not empty" in again.stderr
                    restored.start()
                    restored.wait_for(lambda: before <= _cases_by_message_id(restored),
                                      timeout=120, what="a case for every message"
                                                        " acknowledged before the backup")
                    data, msgid = mail(subject="after the restore")
                    restored.send("dana@example.net", ["help@solarmora.com"], data)
                    restored.case_with(msgid)
                    assert restored.stop() == 0
                finally:
                    if restored.process is not None:
                        restored.process.kill()
                    if restored.log_path.exists():  # shown by pytest when the test failed
                        print(f"--- restored serve log ---\n"
                              f"{restored.log_path.read_text()[-6000:]}")
                    shutil.rmtree(home, ignore_errors=True)
            print(f"{backend}: {len(before)} acknowledged before the backup, {during} while"
                  " it ran")
        finally:
            shutil.rmtree(backup.parent, ignore_errors=True)


def _migration_from_the_future(inst: Instance) -> None:
    insert = ("INSERT INTO django_migrations (app, name, applied)"
              " VALUES ('desk', '9999_from_the_future', CURRENT_TIMESTAMP)")
    url = inst.env.get("CASEGATE_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url) as connection:
            connection.execute(insert)
        return
    with sqlite3.connect(inst.home / "casegate.sqlite3") as connection:
        connection.execute(insert)


def test_servers_and_upgrade_refuse_a_database_a_newer_casegate_changed(backend: str) -> None:
    with instance(backend) as inst:
        assert inst.run("upgrade").stdout.strip() == "the database is up to date"
        _migration_from_the_future(inst)
        for command in (["serve", "--smtp", "127.0.0.1:0"], ["worker"], ["upgrade"],
                        ["init"]):
            result = inst.run(*command, check=False)
            assert result.returncode == 1, command
            assert "upgraded by a newer casegate" in result.stderr
            assert "desk.9999_from_the_future" in result.stderr
