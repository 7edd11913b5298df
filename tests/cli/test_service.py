"""``casegate service install``: the systemd units it writes pass ``systemd-analyze verify``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from casegate.cli.main import main
from casegate.cli.service import UNITS

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# The venv's script beside its interpreter.
CASEGATE = Path(sys.executable).parent / "casegate"


def _install(tmp_path: Path, *extra: str) -> Path:
    dest = tmp_path / "units"
    assert main(["service", "install", "--dest", str(dest), "--home", str(tmp_path / "home"),
                 "--user", "root", *extra]) == 0
    return dest


def test_the_units_run_this_casegate_as_the_user_with_the_home_writable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = _install(tmp_path, "--smtp", "192.0.2.1:25")
    serve = (dest / "casegate.service").read_text()
    assert f"ExecStart={CASEGATE} serve --smtp 192.0.2.1:25 --http 127.0.0.1:8025" \
        in serve
    assert "User=root" in serve
    assert f"ReadWritePaths={tmp_path / 'home'}" in serve
    assert f"Environment=CASEGATE_HOME={tmp_path / 'home'}" in serve
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in serve
    worker = (dest / "casegate-worker@.service").read_text()
    assert f"ExecStart={CASEGATE} worker" in worker
    assert "AmbientCapabilities" not in worker
    printed = capsys.readouterr().out
    assert "useradd --system" in printed and "systemctl enable --now casegate" in printed


def test_a_configuration_file_named_by_config_is_the_services_too(
        tmp_path: Path, setting: Callable[..., None], capsys: pytest.CaptureFixture[str]
        ) -> None:
    setting("CASEGATE_CONFIG", "")  # unset; restored after --config sets it
    settings = tmp_path / "casegate.toml"
    settings.write_text('hostname = "mx.example.com"\n')
    dest = tmp_path / "units"
    assert main(["--config", str(settings), "service", "install", "--dest", str(dest),
                 "--home", str(tmp_path / "home"), "--user", "root"]) == 0
    for name in UNITS:
        assert f"Environment=CASEGATE_CONFIG={settings}\n" in (dest / name).read_text()
    assert f"casegate --config {settings} init" in capsys.readouterr().out


def test_a_dry_run_prints_the_units_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["service", "install", "--dest", str(tmp_path / "units"), "--home",
                 str(tmp_path), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert all(f"# {tmp_path / 'units' / name}" in printed for name in UNITS)
    assert "User=casegate" in printed
    assert not (tmp_path / "units").exists()


def test_a_wrong_address_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["service", "install", "--dest", str(tmp_path), "--smtp", "nowhere"]) == 1
    assert "--smtp 'nowhere' must look like HOST:PORT" in capsys.readouterr().err


def test_the_written_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if SYSTEMD_ANALYZE is None:
        print("SKIP systemd-analyze verify: systemd-analyze is not installed")
        pytest.skip("systemd-analyze is not installed")
    dest = _install(tmp_path)
    # A template is verified through one of its instances.
    shutil.copy(dest / "casegate-worker@.service", dest / "casegate-worker@1.service")
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(dest / "casegate.service"),
                             str(dest / "casegate-worker@1.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # An option systemd does not understand is only a warning: none may be printed.
    assert result.stderr.strip() == "" and result.stdout.strip() == ""
