"""A private Postfix instance (Debian's package): its own configuration, queue, data and
log under one temporary directory, nothing shared with the system's Postfix. The relay
benchmark compares casegate with it; the tests have it hand mail to casegate."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from tests.support import wait_for_smtp

POSTFIX = "/usr/sbin/postfix"


MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
# A private instance: nothing here is shared with the system's Postfix.
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-private
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
transport_maps = texthash:{config}/transport
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
biff = no
append_dot_mydomain = no
"""


class PostfixInstance:
    """A private Postfix: config, queue, data and log under one temporary directory.

    ``files``: the maps in its config directory (``transport`` is always one, read by
    ``transport_maps``); ``main``: more main.cf lines, which may name the config
    directory as ``{config}``; ``services``: more master.cf lines."""

    def __init__(self, smtp_port: int, files: dict[str, str], main: str = "",
                 services: str = "") -> None:
        self.smtp_port = smtp_port
        self.files = {"transport": "", **files}
        self.main = main
        self.services = services
        self.root = Path(tempfile.mkdtemp(prefix="postfix-private-"))
        self.config = self.root / "config"
        self.started = False

    def postfix(self, *words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([POSTFIX, "-c", str(self.config), *words], capture_output=True,
                              text=True, timeout=120)
        if check and done.returncode:
            raise RuntimeError(f"postfix {' '.join(words)} failed: "
                               f"{(done.stderr or done.stdout).strip()}\n{self.log_tail()}")
        return done

    def write_config(self) -> None:
        owner = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        # Postfix's daemons run as the postfix user and must reach the queue below root.
        self.root.chmod(0o755)
        self.config.mkdir(mode=0o755)
        files = {
            "main.cf": MAIN_CF.format(root=self.root, config=self.config)
            + self.main.replace("{config}", str(self.config)),
            "master.cf": MASTER_CF.format(listen=f"127.0.0.1:{self.smtp_port}") + self.services,
            **self.files,
        }
        for name, text in files.items():
            path = self.config / name
            path.write_text(text)
            path.chmod(0o644)
        # The queue and data directories as postfix-files lays them out (what
        # "post-install create-missing" would create); "postfix set-permissions" is not used
        # because it also resets the modes of the system's Postfix binaries.
        queue = self.root / "queue"
        queue.mkdir(mode=0o755)
        for name in ("active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                     "incoming", "private", "saved", "trace"):
            (queue / name).mkdir(mode=0o700)
            os.chown(queue / name, owner.pw_uid, -1)
        for name, mode in (("maildrop", 0o730), ("public", 0o710)):
            (queue / name).mkdir()
            os.chown(queue / name, owner.pw_uid, postdrop)
            (queue / name).chmod(mode)
        (queue / "pid").mkdir(mode=0o755)
        data = self.root / "data"
        data.mkdir(mode=0o700)
        os.chown(data, owner.pw_uid, owner.pw_gid)

    def start(self) -> None:
        self.write_config()
        self.postfix("check")
        self.started = True
        self.postfix("start")
        wait_for_smtp(self.smtp_port)

    def master_pid(self) -> int | None:
        try:
            return int((self.root / "queue" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        pid = self.master_pid()
        if not pid:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            master = psutil.Process(pid)
            return [pid, *(child.pid for child in master.children(recursive=True))]
        return []

    def rewrite(self, name: str, text: str) -> None:
        """Change one of its maps and reload."""
        (self.config / name).write_text(text)
        self.postfix("reload")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = (self.root / "maillog").read_text(errors="replace").splitlines()
        except OSError:
            return "(no maillog)"
        return "\n".join(text[-lines:])

    def warnings(self) -> list[str]:
        try:
            text = (self.root / "maillog").read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in text if "warning:" in line or "fatal:" in line]

    def close(self) -> None:
        try:
            if self.started and self.master_pid():
                self.postfix("stop", check=False)
                pid = self.master_pid()
                deadline = time.monotonic() + 15
                while pid and psutil.pid_exists(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
