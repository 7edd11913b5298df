"""The configuration file as an operator uses it: checked, shown, and read by ``serve``."""

from __future__ import annotations

import socket

from tests.support import free_port, instance, wait_for_smtp


def banner(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return sock.makefile("rb").readline().decode().strip()


def test_check_show_and_serve_read_the_file_and_the_environment_wins() -> None:
    with instance("sqlite") as inst:
        del inst.env["CASEGATE_HOSTNAME"]
        config = inst.home / "casegate.toml"
        config.write_text('hostname = "mx.file.test"\nsecret_key = "file-only-secret"\n'
                          'max_recipients = "lots"\nrecipient_limit = 10\n')
        config.chmod(0o600)  # it holds a secret: config check would warn of others reading it
        checked = inst.run("config", "check", check=False)
        assert checked.returncode == 1
        assert checked.stderr.splitlines() == [
            f"casegate: {config}: 'recipient_limit' is not a setting; did you mean"
            " 'recipient_delimiter'?",
            f"casegate: {config}: max_recipients = \"lots\" has the wrong type: expected an"
            " integer, not a string",
        ]
        # a command that needs the settings stops with the same problems
        stopped = inst.run("serve", "--smtp", "127.0.0.1:0", check=False)
        assert stopped.returncode == 1 and "'recipient_limit' is not a setting" in stopped.stderr

        config.write_text('hostname = "mx.file.test"\nsecret_key = "file-only-secret"\n'
                          "max_recipients = 10\n")
        assert inst.run("config", "check").stdout.startswith(
            f"configuration OK: file {config} (read); settings from the file: 3")
        shown = inst.run("config", "show").stdout
        assert "file-only-secret" not in shown
        assert [line.split() for line in shown.splitlines()
                if line.startswith(("CASEGATE_SECRET_KEY", "CASEGATE_HOSTNAME"))] == [
            ["CASEGATE_SECRET_KEY", "file", "********"],
            ["CASEGATE_HOSTNAME", "file", "mx.file.test"]]

        inst.start()
        assert banner(inst.smtp_port).startswith("220 mx.file.test casegate")
        assert "not a fully qualified" not in inst.log_path.read_text()
        inst.stop()
        inst.env["CASEGATE_HOSTNAME"] = "mx.env.test"
        inst.start()
        assert banner(inst.smtp_port).startswith("220 mx.env.test casegate")
        values = {s["variable"]: s for s in inst.json("config", "show")["settings"]}
        assert values["CASEGATE_HOSTNAME"]["source"] == "environment"
        assert values["CASEGATE_MAX_RECIPIENTS"]["value"] == "10"
        inst.stop()

        # --config names the file for serve and the gateway processes it starts
        del inst.env["CASEGATE_HOSTNAME"]
        elsewhere = config.rename(inst.home / "elsewhere.toml")
        port = free_port()
        serving = inst.spawn("--config", str(elsewhere), "serve", "--smtp", f"127.0.0.1:{port}",
                             "--processes", "2", name="serve-elsewhere")
        try:
            wait_for_smtp(port)
            assert banner(port).startswith("220 mx.file.test casegate")
        finally:
            serving.terminate()
            serving.wait(timeout=60)
