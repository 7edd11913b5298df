"""Talking to a mailbox's server: an IMAP folder (IMAPClient, over the standard library's
imaplib) and a POP3 maildrop (the standard library's poplib), each logged in with a password
or SASL XOAUTH2. Every failure is a :class:`ServerError` whose text says what went wrong in
words an operator can act on."""

from __future__ import annotations

import base64
import logging
import poplib
import re
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from casegate.errors import CasegateError
from casegate.mailboxes.credentials import Credentials
from casegate.mailboxes.vocabulary import AfterFetch, AfterFetchAction, Tls

log = logging.getLogger("casegate.mailboxes")

TIMEOUT = 60.0  # seconds a server may take to answer one command
# poplib refuses a line over 2,048 bytes, a guard against a server sending one endless line;
# real mail has longer ones (HTML written on one line), and a message is bounded by
# CASEGATE_MAX_MESSAGE_SIZE anyway.
poplib._MAXLINE = 1024 * 1024  # type: ignore[attr-defined]


class ServerError(CasegateError):
    """The server cannot be reached, refuses the login, or fails a command."""


@dataclass(frozen=True)
class Where:
    host: str
    port: int
    tls: Tls

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def server_errors(where: Where, doing: str) -> Iterator[None]:
    """The library's and the network's exceptions as one :class:`ServerError`."""
    try:
        yield
    except LoginError as exc:
        raise ServerError(f"{where} refused the login: {_said(exc)}") from None
    except (IMAPClientError, poplib.error_proto) as exc:
        raise ServerError(f"{where} failed {doing}: {_said(exc)}") from None
    except ssl.SSLError as exc:
        raise ServerError(f"TLS with {where} failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise ServerError(f"{where} did not answer {doing} in time") from None
    except OSError as exc:
        raise ServerError(f"cannot reach {where}: {exc.strerror or exc}") from None


def _said(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return " ".join(str(text).split())[:300] or type(exc).__name__


def xoauth2(user: str, token: str) -> str:
    """SASL XOAUTH2's initial response (Google's and Microsoft's mechanism), unencoded."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


@dataclass(frozen=True)
class Listed:
    """A message on the server not yet dealt with: its UID (IMAP) or number (POP3), its key
    (the UID, or the UIDL), its size and, in IMAP, when the server received it."""

    number: int
    key: str
    size: int
    received: datetime | None = None


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int
    messages: int


_ANSWER = re.compile(rb"\d+ \(")  # "12 (UID 40 ...": a FETCH answer's start, not its tail
_UID = re.compile(rb"[( ]UID (\d+)")
_SIZE = re.compile(rb"[( ]RFC822\.SIZE (\d+)")
_RECEIVED = re.compile(rb'[( ]INTERNALDATE "([^"]+)"')
_BODY = re.compile(rb"[( ]BODY\[\] \{\d+\}$")
_QUOTED_BODY = re.compile(rb'[( ]BODY\[\] "((?:[^"\\]|\\.)*)"')  # an empty message, say


@dataclass(frozen=True)
class Fetched:
    """One FETCH answer: the message's UID, and what was asked for of it."""

    uid: int
    size: int | None = None
    received: datetime | None = None
    content: bytes | None = None


def _internal_date(text: bytes) -> datetime | None:
    try:
        return datetime.strptime(text.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except (UnicodeDecodeError, ValueError):
        return None


def _uid_set(uids: Iterable[int]) -> str:
    return ",".join(map(str, uids))


def fetched(data: list[Any]) -> list[Fetched]:
    """imaplib's FETCH data as answers. imaplib gives an answer with a literal as a pair
    (its text up to the literal, the literal) followed by the text after it, and one without
    as its text; an answer without a UID (unasked news of another message) is left out."""
    pieces: list[tuple[bytes, bytes | None]] = []
    for part in data:
        if isinstance(part, tuple):
            pieces.append((part[0], part[1] if _BODY.search(part[0]) else None))
        elif isinstance(part, bytes) and pieces and not _ANSWER.match(part):
            pieces[-1] = (pieces[-1][0] + b" " + part, pieces[-1][1])
        elif isinstance(part, bytes):
            pieces.append((part, None))
    answers = []
    for text, content in pieces:
        quoted = _QUOTED_BODY.search(text) if content is None else None
        if quoted:  # the fields are read outside it: the message's own words are no field
            content = re.sub(rb"\\(.)", rb"\1", quoted[1])
            text = text[:quoted.start()] + text[quoted.end():]
        uid, size, received = _UID.search(text), _SIZE.search(text), _RECEIVED.search(text)
        if uid:
            answers.append(Fetched(int(uid[1]), int(size[1]) if size else None,
                                   _internal_date(received[1]) if received else None,
                                   content))
    return answers


class ImapFolder:
    """One IMAP folder, logged in and selected; use as a context manager."""

    def __init__(self, where: Where, credentials: Credentials, folder: str) -> None:
        self.where = where
        self.folder = folder
        with server_errors(where, "the connection"):
            context = ssl.create_default_context()
            self.client = IMAPClient(where.host, where.port, ssl=where.tls == Tls.IMPLICIT,
                                     ssl_context=context, timeout=TIMEOUT)
        self.client.normalise_times = False  # INTERNALDATE with its zone, not local time
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            # IMAPClient turns imaplib's tracing fully on and hands it to that logger: every
            # line read, message bodies included, formatted for a record nobody keeps.
            self.client._imap.debug = 0
        try:
            with server_errors(where, "the login"):
                if where.tls == Tls.STARTTLS:
                    self.client.starttls(context)
                if credentials.token:
                    self.client.oauth2_login(credentials.user, credentials.token)
                else:
                    self.client.login(credentials.user, credentials.password)
        except ServerError:
            self.close()
            raise

    def __enter__(self) -> ImapFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # the connection is gone already: only the socket is left
            with suppress(Exception):
                self.client.shutdown()

    @property
    def idles(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    def select(self) -> FolderState:
        with server_errors(self.where, f"to open the folder {self.folder}"):
            selected = self.client.select_folder(self.folder)
        # From here on, what the server says unasked is news of the folder (wait_for_mail).
        self.client._imap.untagged_responses.clear()
        return FolderState(int(selected[b"UIDVALIDITY"]), int(selected.get(b"UIDNEXT", 0)),
                           int(selected[b"EXISTS"]))

    def listing(self, after_uid: int) -> list[Listed]:
        """The messages whose UID is above ``after_uid``, in UID order. Sizes are left
        unknown here and asked a batch at a time (:meth:`sizes`): a server that cannot tell
        one message's size then fails that batch only."""
        with server_errors(self.where, "to list the folder"):
            uids = self.client.search(["UID", f"{after_uid + 1}:*"])
        return [Listed(uid, str(uid), 0) for uid in sorted(uids) if uid > after_uid]

    def _fetch(self, uids: str, items: str, doing: str) -> list[Fetched]:
        """The server's FETCH answers for the UIDs ``uids``, through imaplib itself:
        IMAPClient's parser, which reads every answer token by token, was most of the time
        a fetch took, where these answers need three fields found in their first line."""
        with server_errors(self.where, doing):
            kind, data = self.client._imap.uid("FETCH", uids, f"({items})")
        if kind != "OK":
            raise ServerError(f"{self.where} failed {doing}: {_said(ServerError(*data))}")
        return fetched(data)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        wanted = set(uids)
        return {answer.uid: answer.size for answer in
                self._fetch(_uid_set(uids), "RFC822.SIZE", "to read message sizes")
                if answer.uid in wanted and answer.size is not None}

    def contents(self, uids: Iterable[int]) -> dict[int, tuple[bytes, datetime | None]]:
        """The messages, whole, with the time the server received each; fetching does not
        set \\Seen (BODY.PEEK)."""
        wanted = list(uids)
        if not wanted:
            return {}
        chosen = set(wanted)
        return {answer.uid: (answer.content, answer.received) for answer in
                self._fetch(_uid_set(wanted), "BODY.PEEK[] INTERNALDATE",
                            "to fetch messages")
                if answer.uid in chosen and answer.content is not None}

    def settle(self, uids: list[int], after: AfterFetchAction) -> None:
        """Do ``after`` with the stored messages ``uids``."""
        if not uids or after.action == AfterFetch.KEEP:
            return
        with server_errors(self.where, f"to {after.action} fetched messages"):
            if after.action == AfterFetch.SEEN:
                self.client.add_flags(uids, [b"\\Seen"], silent=True)
            elif after.action == AfterFetch.MOVE and self.client.has_capability("MOVE"):
                self.client.move(uids, after.folder)
            else:
                if after.action == AfterFetch.MOVE:
                    self.client.copy(uids, after.folder)
                self.client.delete_messages(uids, silent=True)
                if self.client.has_capability("UIDPLUS"):
                    self.client.uid_expunge(uids)
                elif set(self.client.search(["DELETED"])) <= set(uids):
                    self.client.expunge()
                else:  # EXPUNGE would also remove what others marked \Deleted
                    log.warning("imap=%s expunge=skipped reason=other messages in the folder"
                                " are marked deleted; ours stay marked", self.where)

    def wait_for_mail(self, seconds: float) -> bool:
        """IDLE for up to ``seconds``; whether the server told of a change."""
        # A server tells of new mail with the answer to whatever command runs when it comes
        # ("* 5 EXISTS" after a round's FETCH), and only once: imaplib keeps it aside.
        if self.client._imap.untagged_responses.pop("EXISTS", None):
            return True
        with server_errors(self.where, "IDLE"):
            self.client.idle()
            try:
                said = self.client.idle_check(timeout=seconds)
            finally:
                # News that came while IDLE was ending: the server will not repeat it.
                _, late = self.client.idle_done()
        return bool(said or late)


class Pop3Drop:
    """A POP3 maildrop, logged in; use as a context manager. Deletions take effect at
    :meth:`close` (QUIT), so a session cut short deletes nothing."""

    def __init__(self, where: Where, credentials: Credentials) -> None:
        self.where = where
        with server_errors(where, "the connection"):
            context = ssl.create_default_context()
            self.pop: poplib.POP3 = (
                poplib.POP3_SSL(where.host, where.port, timeout=TIMEOUT, context=context)
                if where.tls == Tls.IMPLICIT else poplib.POP3(where.host, where.port,
                                                              timeout=TIMEOUT))
        try:
            with server_errors(where, "the login"):
                if where.tls == Tls.STARTTLS:
                    self.pop.stls(context)
                try:
                    if credentials.token:
                        self._xoauth2(credentials.user, credentials.token)
                    else:
                        self.pop.user(credentials.user)
                        self.pop.pass_(credentials.password)
                except poplib.error_proto as exc:
                    raise LoginError(_said(exc)) from None
        except ServerError:
            self.pop.close()
            raise

    def _xoauth2(self, user: str, token: str) -> None:
        # poplib has no AUTH (RFC 5034): the command goes through its own reply handling.
        initial = base64.b64encode(xoauth2(user, token).encode()).decode("ascii")
        reply = self.pop._shortcmd(f"AUTH XOAUTH2 {initial}")  # type: ignore[attr-defined]
        if not reply.startswith(b"+OK"):  # a challenge holding the error: answer it empty
            self.pop._shortcmd("")  # type: ignore[attr-defined]

    def __enter__(self) -> Pop3Drop:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.pop.close()  # no QUIT: nothing marked for deletion is deleted

    def close(self) -> None:
        with server_errors(self.where, "QUIT"):
            self.pop.quit()

    def listing(self) -> list[Listed]:
        with server_errors(self.where, "UIDL"):
            sizes = {int(n): int(size) for n, size in
                     (line.split() for line in self.pop.list()[1])}
            uidls = [line.decode("ascii", errors="replace").split(" ", 1)
                     for line in self.pop.uidl()[1]]
        return [Listed(int(n), uidl.strip(), sizes.get(int(n), 0)) for n, uidl in uidls]

    def count(self) -> int:
        with server_errors(self.where, "STAT"):
            return int(self.pop.stat()[0])

    def content(self, number: int) -> bytes:
        with server_errors(self.where, "RETR"):
            return b"\r\n".join(self.pop.retr(number)[1]) + b"\r\n"

    def delete(self, number: int) -> None:
        with server_errors(self.where, "DELE"):
            self.pop.dele(number)
