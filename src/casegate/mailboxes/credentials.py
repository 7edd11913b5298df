"""A mailbox's secret, read when it logs in: the password from its file, or an OAuth2 access
token printed by the operator's command (casegate does not run the OAuth flow). The secret
is never stored, logged or shown; an error names the file or the command, not its output's
secret."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from casegate.errors import CasegateError

TOKEN_COMMAND_TIMEOUT = 60.0  # seconds; a token command may ask its provider over the network


class CredentialsError(CasegateError):
    """The secret cannot be read: the mailbox cannot log in until this is fixed."""


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)  # an OAuth2 access token: SASL XOAUTH2


def read_password(path: str) -> str:
    """The password: the file's first line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(f"cannot read the password file {path}:"
                               f" {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"the password file {path} is not UTF-8 text") from None
    password = (text.splitlines() or [""])[0]
    if not password:
        raise CredentialsError(f"the password file {path} is empty")
    return password


def run_token_command(command: str) -> str:
    """The access token the command prints (its first line)."""
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, text=True,
                              timeout=TOKEN_COMMAND_TIMEOUT, check=False)
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot run the token command: {exc}") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"the token command did not finish within"
                               f" {TOKEN_COMMAND_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [""])[-1][:200]
        raise CredentialsError(f"the token command exited with status {done.returncode}"
                               + (f": {said}" if said else ""))
    token = (done.stdout.strip().splitlines() or [""])[0].strip()
    if not token:
        raise CredentialsError("the token command printed no token")
    return token


def credentials(user: str, password_file: str, token_command: str) -> Credentials:
    if token_command:
        return Credentials(user, token=run_token_command(token_command))
    return Credentials(user, password=read_password(password_file))
