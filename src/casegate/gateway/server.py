"""The SMTP server: aiosmtpd with enhanced status codes, limits and graceful shutdown."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

from aiosmtpd.smtp import SMTP, TLSSetupException, syntax

from casegate import __version__
from casegate.config import Config
from casegate.gateway.handler import GatewayHandler
from casegate.gateway.limits import SessionLimits
from casegate.gateway.transaction import Transaction
from casegate.mail.xtext import xtext_decode
from casegate.spool.vocabulary import Source
from casegate.text import malformed

log = logging.getLogger("casegate.gateway")

# RFC 5321 4.5.3.1.6: 998 characters plus CRLF, and the dot a line that starts with one
# gets on the wire (4.5.2), which aiosmtpd takes away after this check.
MAX_LINE = 998 + 2 + 1
# RFC 3461 4.1 and 4.3: DSN's parameters lengthen RCPT by up to 500 octets, MAIL by 100.
COMMAND_LIMITS = {"RCPT": 512 + 500, "MAIL": 512 + 100}
# Postfix's smtpd_hard_error_limit and smtpd_junk_command_limit: a client that gets this
# many refusals without handing over a message is disconnected, and after this many
# NOOP, RSET, VRFY and HELP each one counts as a refusal.
ERROR_LIMIT = 20
JUNK_LIMIT = 100
# Recipients past the per-message limit are refused with 452 and count as errors only
# beyond this many (Postfix's smtpd_recipient_overshoot_limit): a client with one message
# to more recipients than the limit is not a client making mistakes.
OVERSHOOT_LIMIT = 1000
FINAL_REPLY_SECONDS = 600  # RFC 5321 4.5.3.2.6: a client waits 10 minutes for it
TOO_MANY_RECIPIENTS = "452 4.5.3"


def _reply_rewrites(config: Config) -> dict[str, str]:
    """aiosmtpd's built-in replies, with enhanced status codes and a reason a sender can act on."""
    size = config.max_message_size
    return {
        "552 Error: Too much mail data": (
            f"552 5.3.4 Message too big: the limit is {size} bytes"
        ),
        "552 Error: message size exceeds fixed maximum message size": (
            f"552 5.3.4 Message too big: the limit is {size} bytes"
        ),
        "500 Line too long (see RFC5321 4.5.3.1.6)": (
            "500 5.5.2 Line too long: at most 998 characters per line (RFC 5321 4.5.3.1.6)"
        ),
        "250 OK": "250 2.0.0 OK",
        "221 Bye": "221 2.0.0 Bye",
    }


_DEFAULT_ENHANCED = {
    "421": "4.3.2", "450": "4.2.0", "451": "4.3.0", "452": "4.3.1", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "535": "5.7.8", "550": "5.0.0", "552": "5.3.4", "553": "5.1.3",
    "554": "5.0.0", "555": "5.5.4",
}


def with_enhanced_code(reply: str) -> str:
    """Give a 4xx/5xx reply that lacks one an enhanced status code (RFC 3463)."""
    code, sep, text = reply.partition(" ")
    enhanced = _DEFAULT_ENHANCED.get(code)
    if not sep or enhanced is None or text[:2] in ("4.", "5."):
        return reply
    if text.startswith("Error: "):
        text = text[len("Error: "):]
    return f"{code} {enhanced} {text}"


DSN_PARAMETERS = frozenset({"RET", "ENVID", "NOTIFY", "ORCPT"})
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(
    rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>(?:[ \t]+([^\s(].*)|[ \t]*)\Z",
    re.DOTALL,
)


class BareLineFeeds:
    """The stream DATA is read from, with lines that end in a bare LF taken as lines.

    aiosmtpd reads DATA up to each CRLF, so a message whose lines end in a bare LF came
    in as one long line (refused as too long). Here such a line ends at its LF and is
    handed on ending in CRLF. Only a dot line between two CRLFs ends DATA: a line next to
    a bare LF that starts with a dot gets a second one, which aiosmtpd's transparency
    step takes away again, so ``\n.\n`` or ``\n.\r\n`` stays content (a message is never
    split in two) and every such line is kept as it was sent.
    """

    def __init__(self, reader: asyncio.StreamReader, on_end: Callable[[], None]) -> None:
        self._reader = reader
        self._on_end = on_end
        self._after_crlf = True
        self._cr_read = False

    async def readuntil(self, separator: bytes = b"\r\n") -> bytes:
        line = await self._reader.readuntil(b"\n")
        # After a too long line's start, its CR may have been read already.
        ends_in_crlf = line.endswith(b"\r\n") or (line == b"\n" and self._cr_read)
        self._cr_read = False
        proper = self._after_crlf and ends_in_crlf
        self._after_crlf = ends_in_crlf
        line = line.removesuffix(b"\r\n").removesuffix(b"\n") + b"\r\n"
        if not proper and line.startswith(b"."):
            line = b"." + line
        elif proper and line == b".\r\n":
            self._on_end()
        return line

    async def read(self, n: int) -> bytes:
        """The start of a line too long to keep (aiosmtpd discards it)."""
        chunk = await self._reader.read(n)
        self._after_crlf = False
        self._cr_read = chunk.endswith(b"\r")
        return chunk


def _send(transport: asyncio.BaseTransport, reply: str) -> None:
    """A reply written outside aiosmtpd's command loop, as the session is refused or ends."""
    # aiosmtpd types its transport as a BaseTransport; a socket's is always a Transport.
    cast(asyncio.Transport, transport).write(f"{reply}\r\n".encode())


def _counted_as_junk(command: Callable[[Any, str], Awaitable[None]]
                     ) -> Callable[[GatewaySMTP, str], Awaitable[None]]:
    """aiosmtpd's ``command``, counted as a junk command first (see JUNK_LIMIT)."""
    @functools.wraps(command)  # keeps the usage HELP shows (__smtp_syntax__)
    async def counted(self: GatewaySMTP, arg: str) -> None:
        self.count_junk()
        await command(self, arg)
    return counted


class GatewaySMTP(SMTP):
    """One SMTP session. Tracks itself in ``sessions`` so shutdown can wait for it, and
    counts itself in ``limits`` (a connection beyond them is answered 421 and closed)."""

    line_length_limit = MAX_LINE
    _command_names: ClassVar[list[str] | None] = None

    def __init__(self, handler: GatewayHandler, sessions: set[GatewaySMTP],
                 rewrites: dict[str, str], limits: SessionLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._rewrites = rewrites
        self._limits = limits
        self._client = ""
        self._admitted = False
        self._command = ""  # the command being answered, for the log
        self._argument = ""
        self.dsn_parameters: dict[str, str] = {}
        self.transaction: Transaction | None = None
        self.client_listing: str | None = None
        self._continued: list[str] = []
        self.trusted = False
        self._errors = 0  # refusals since the last message accepted
        self._junk = 0  # NOOP, RSET, VRFY and HELP since then
        self._overshoot = 0  # recipients refused as too many since then
        # aiosmtpd's own are one dict for every session, which EHLO adds to.
        self.command_size_limits = collections.defaultdict(
            lambda: self.command_size_limit, COMMAND_LIMITS)

    def __dir__(self) -> list[str]:
        # aiosmtpd looks up its smtp_* commands and auth_* mechanisms with dir() and
        # inspect.getmembers() on every new session; listing only the commands makes
        # setting up a session about a quarter cheaper (measured in bench/), and leaves
        # aiosmtpd no AUTH mechanism: there is no submission service to log in to.
        cls = type(self)
        if "_command_names" not in cls.__dict__ or cls._command_names is None:
            cls._command_names = [
                name for name in super().__dir__() if name.startswith("smtp_")
            ]
        return cls._command_names

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        if not await self._refused_hostname("HELO", hostname):
            await super().smtp_HELO(hostname)

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        if not await self._refused_hostname("EHLO", hostname):
            await super().smtp_EHLO(hostname)

    async def _refused_hostname(self, command: str, hostname: str) -> bool:
        if not hostname or not malformed(hostname):
            return False
        await self.push(f"501 5.5.2 {command}: the hostname holds control characters or bytes"
                        " that are not UTF-8")
        return True

    async def smtp_MAIL(self, arg: str) -> None:
        self._command, self._argument = "MAIL", arg or ""
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str) -> None:
        self._command, self._argument = "RCPT", arg or ""
        await super().smtp_RCPT(arg)

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        await self.push("502 5.5.1 AUTH is not offered: this server only receives mail for"
                        " its own domains, which needs no login")

    async def smtp_DATA(self, arg: str) -> None:
        self._command, self._argument = "DATA", ""
        reader = self._reader
        # aiosmtpd's DATA loop reads with readuntil() and read() alone, which it has.
        self._reader = cast(asyncio.StreamReader, BareLineFeeds(reader, self._data_received))
        try:
            await super().smtp_DATA(arg)
        except Exception:
            # aiosmtpd starts a new envelope only after a DATA that ended; one that failed
            # (answered 451) must not leave its recipients to the client's next message.
            self._set_post_data_state()
            raise
        finally:
            self._reader = reader
            if self.transport is not None and not self.transport.is_closing():
                self._reset_timeout()  # the wait for the next command

    def _data_received(self) -> None:
        """The message is all in: the checks and the commit that follow are not cut off by
        the session's clock, whose 421 after a commit would have the client send it again.
        They get RFC 5321's ten minutes for the reply to the final dot (longer than the
        client waits), so a database that never answers still frees the session."""
        self._reset_timeout(max(self._timeout_duration, FINAL_REPLY_SECONDS))

    smtp_NOOP = _counted_as_junk(SMTP.smtp_NOOP)
    smtp_RSET = _counted_as_junk(SMTP.smtp_RSET)
    smtp_VRFY = _counted_as_junk(SMTP.smtp_VRFY)
    smtp_HELP = _counted_as_junk(SMTP.smtp_HELP)

    def count_junk(self) -> None:
        self._junk += 1
        if self._junk > JUNK_LIMIT:
            self._errors += 1

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, asyncio.IncompleteReadError):
            # The client closed its side and all it sent before is answered (see
            # eof_received): the session ends here, as aiosmtpd ends it at EOF.
            if self.transport is not None:
                self.transport.close()
            raise asyncio.CancelledError
        if isinstance(error, TLSSetupException):  # a client's mistake, not ours
            cause = error.__cause__ or error
            reason = " ".join(str(cause).split()) or type(cause).__name__
            log.warning("tls=failed client=%s reason=%s", self._client, reason)
            return "454 4.7.0 TLS handshake failed"  # aiosmtpd closes without sending it
        return await super().handle_exception(error)

    # aiosmtpd upper-cases MAIL/RCPT parameters and refuses any it does not know. The DSN
    # parameters (RFC 3461) are taken out here, with their original case, for the handler.
    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd parses every path with the email package's header parser, a quarter of
        # a session's CPU; plain <user@host> paths are read with one regular expression
        # (the same result, checked by tests), anything else still goes to aiosmtpd.
        found = _PLAIN_PATH.match(arg) if arg else None
        if found and not (self.local_part_limit
                          and len(found[1].rpartition("@")[0]) > self.local_part_limit):
            address, params = found[1], found[2] or ""
        else:
            address, params = super()._getaddr(arg)
        self._raw_params = params or ""
        return address, params

    def _getparams(self, params: Any) -> dict[str, str | bool] | None:
        result = super()._getparams(params)
        self.dsn_parameters = {}
        if result is None:
            return None
        original = {
            key.upper(): value
            for key, _, value in (p.partition("=") for p in self._raw_params.split())
        }
        for key in DSN_PARAMETERS & result.keys():
            if result[key] is True:  # a DSN parameter without a value stays unrecognized
                continue
            result.pop(key)
            self.dsn_parameters[key] = xtext_decode(original.get(key, ""))
        return result

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection (STARTTLS calls this again)
            peer = transport.get_extra_info("peername")
            self._client = peer[0] if isinstance(peer, tuple) else str(peer or "")
            refusal = self._limits.admit(self._client)
            if refusal:
                log.warning("smtp=refused client=%s reason=%s", self._client, refusal)
                _send(transport, f"421 4.7.0 {refusal}")
                transport.close()
                return
            self._admitted = True
            self.trusted = self._limits.exempt(self._client)
            log.info("connect client=%s", self._client)
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        log.info("disconnect client=%s", self._client)
        self._limits.release(self._client)
        self._sessions.discard(self)
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if not self._admitted:
            return False
        if self.session is not None and self.session.ssl is None:
            # The client closed its side, maybe right after pipelining the end of DATA and
            # QUIT: what it sent is still answered (a message stored must get its 250, or
            # the client sends it again); reading on at the end raises IncompleteReadError,
            # which ends the session (handle_exception). aiosmtpd would cancel at once.
            asyncio.StreamReaderProtocol.eof_received(self)
            return True
        # Over TLS the transport closes at EOF whatever is returned: cancel as aiosmtpd does.
        super().eof_received()
        if self.transport is not None:
            self.transport.close()
        return False

    async def push(self, status: Any) -> None:
        if status is None:  # handle_exception ended the session: nothing to answer
            return
        if isinstance(status, str):
            status = with_enhanced_code(self._rewrites.get(status, status))
            if not status.isascii():  # an address it echoes may hold bytes that are not UTF-8
                status = status.encode("utf-8", "replace").decode("utf-8")
            if status[:1] in ("4", "5"):  # every refusal, with what it answered
                log.info("client=%s refused command=%s arg=%r reply=%r", self._client,
                         self._command or "-", self._argument[:200], status[:300])
                if not status.startswith(TOO_MANY_RECIPIENTS):
                    self._errors += 1
                else:
                    self._overshoot += 1
                    if self._overshoot > OVERSHOOT_LIMIT:
                        self._errors += 1
            elif self._command == "DATA" and status.startswith("250"):
                self._errors = self._junk = self._overshoot = 0  # a message handed over
            if status[3:4] == "-":
                # A line of a multi-line reply (EHLO's) goes out with its last line, in one
                # write instead of a system call each.
                self._continued.append(status)
                return
            if not status.startswith("354"):  # the command is answered
                self._command = self._argument = ""
            if self._continued:
                status = "\r\n".join([*self._continued, status])
                self._continued.clear()
        await super().push(status)
        if self._errors >= ERROR_LIMIT and self.transport is not None and not self.trusted:
            log.warning("smtp=disconnected client=%s reason=too_many_errors errors=%d",
                        self._client, self._errors)
            await super().push("421 4.7.0 Too many errors: closing the connection")
            self.transport.close()

    def _timeout_cb(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            _send(self.transport, "421 4.4.2 Timeout: closing the connection")
        super()._timeout_cb()

    def _set_post_data_state(self) -> None:
        # aiosmtpd starts a new envelope here, after DATA and (through _set_rset_state)
        # at RSET, HELO, EHLO and on a new or STARTTLS connection: the transaction ends too.
        super()._set_post_data_state()
        self.transaction = None

    @property
    def idle(self) -> bool:
        """Between mail transactions (no MAIL FROM accepted yet)."""
        return self.transaction is None

    def close_for_shutdown(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            _send(self.transport, "421 4.3.2 Service shutting down; try again later")
            self.transport.close()


class GatewayLMTP(GatewaySMTP):
    """One LMTP session (RFC 2033) from the company's mail server: LHLO instead of EHLO, and
    a reply for each accepted recipient after DATA."""

    show_smtp_greeting = False
    _owed = 0  # the replies DATA owes: one for each accepted recipient

    async def smtp_DATA(self, arg: str) -> None:
        assert self.envelope is not None
        self._owed = 0 if arg else len(self.envelope.rcpt_tos)
        await super().smtp_DATA(arg)

    async def push(self, status: Any) -> None:
        # DATA's final reply, whoever gives it (the handler, aiosmtpd's size and line
        # limits, a failure), once for each recipient: an LMTP client reads as many.
        if self._owed and isinstance(status, str) and not status.startswith("354"):
            status, owed, self._owed = with_enhanced_code(
                self._rewrites.get(status, status)), self._owed, 0
            status = "\r\n".join([status] * owed)
        await super().push(status)

    @syntax("LHLO hostname")
    async def smtp_LHLO(self, arg: str) -> None:
        await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg: str) -> None:
        await self.push("500 5.5.1 HELO is not an LMTP command; use LHLO")

    async def smtp_EHLO(self, arg: str) -> None:
        await self.push("500 5.5.1 EHLO is not an LMTP command; use LHLO")


def tls_context(config: Config) -> ssl.SSLContext | None:
    if not config.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key or None)
    return context


class Gateway:
    """Listens on a socket and serves SMTP sessions until :meth:`stop`."""

    def __init__(self, config: Config, handler: GatewayHandler) -> None:
        self.config = config
        self.handler = handler
        self.sessions: set[GatewaySMTP] = set()
        self._server: asyncio.base_events.Server | None = None
        self._rewrites = _reply_rewrites(config)
        self._tls = tls_context(config)
        self.limits = SessionLimits(config.max_sessions, config.max_sessions_per_client,
                                    self._trusted)

    def _trusted(self, client: str) -> bool:
        """A client in the trusted networks, or on LMTP's Unix socket (no address) the
        company's own mail server."""
        if not client:
            return self.handler.source == Source.LMTP
        return self.config.is_trusted(client)

    def _protocol(self) -> GatewaySMTP:
        kind = GatewayLMTP if self.handler.source == Source.LMTP else GatewaySMTP
        return kind(
            self.handler,
            self.sessions,
            self._rewrites,
            self.limits,
            data_size_limit=self.config.max_message_size,
            enable_SMTPUTF8=True,
            hostname=self.config.hostname,
            ident=f"casegate {__version__} {'LMTP' if kind is GatewayLMTP else 'ESMTP'}",
            tls_context=self._tls,
            timeout=self.config.smtp_timeout,
        )

    async def start(self, host: str, port: int, reuse_port: bool = False) -> None:
        """Listen; ``reuse_port``: beside the other gateway processes on the same port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port, reuse_address=True,
                                                reuse_port=reuse_port)

    def reload_tls(self) -> None:
        """Read the certificate and key again (after a renewal): new sessions use them,
        sessions already under way keep theirs. A pair that cannot be read is logged and
        the one in use kept."""
        try:
            fresh = tls_context(self.config)
        except (OSError, ssl.SSLError) as exc:
            log.error("tls=reload-failed cert=%s reason=%s; the certificate in use is kept",
                      self.config.tls_cert, exc)
            return
        self._tls = fresh
        log.info("tls=reloaded cert=%s", self.config.tls_cert or "(none)")

    async def start_unix(self, path: str) -> None:
        """Listen on a Unix socket (LMTP from the local mail server), replacing a stale one."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(self._protocol, path)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self, grace: float = 30.0) -> None:
        """Stop listening; let open transactions finish (up to ``grace`` seconds), then close."""
        if self._server is not None:
            self._server.close()
        deadline = asyncio.get_running_loop().time() + grace
        while self.sessions and asyncio.get_running_loop().time() < deadline:
            for session in list(self.sessions):
                if session.idle:
                    session.close_for_shutdown()
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            session.close_for_shutdown()
        await asyncio.sleep(0)
