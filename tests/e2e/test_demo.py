"""``casegate demo``: what it prints works as printed, from another shell and directory."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.support import free_port, instance


def test_the_printed_commands_send_a_mail_and_list_its_case(tmp_path: Path) -> None:
    with instance("sqlite") as inst:
        inst.smtp_port = free_port()
        printed = inst.run("demo", "--smtp", f"127.0.0.1:{inst.smtp_port}").stdout
        inst.start()
        send = printed.split("or with Python:\n", 1)[1].split("\nThen", 1)[0]
        list_cases = printed.split("Then see the case:\n", 1)[1].strip()
        # a new shell: none of the instance's settings, another directory
        shell = {k: v for k, v in inst.env.items() if not k.startswith("CASEGATE_")}

        def run(command: str) -> str:
            return subprocess.run(["bash", "-c", command], cwd=tmp_path, env=shell, text=True,
                                  capture_output=True, check=True).stdout

        run(send)
        deadline = time.monotonic() + 20
        while not (cases := json.loads(run(list_cases))) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [(c["requester"], c["subject"]) for c in cases] == [
            ("customer@example.net", "My panel stopped charging")]
