"""Next hops as they are: an LMTP mail store without STARTTLS gets nothing that requires
TLS, one slow to answer DATA is waited for as an SMTP server is; an SMTP server that knows
only HELO gets its mail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from casegate.delivery import remote
from casegate.delivery.remote import Hop, Result, Sender, Status
from casegate.spool.copy_edits import CopyEdits
from casegate.spool.queue import Claimed
from tests.certificates import TestCA
from tests.support import (
    LMTPController,
    LocalDNS,
    RecordingHandler,
    SlowFor,
    free_port,
    smtp_sink,
)


def test_an_lmtp_hop_without_starttls_defers_a_message_that_requires_tls() -> None:
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits(require_tls=True))
    with smtp_sink(lmtp=True) as (controller, store):
        hop = Hop("127.0.0.1", controller.port, protocol="lmtp", require_tls=True)
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\r\nsecret\r\n")})
        results: list[Result] = []
        asyncio.run(sender.send_group(hop, [item], results))
    [result] = results
    assert result.status is Status.DEFERRED and "4.7.10 TLS is required" in result.reply
    assert store.messages == []


def test_an_lmtp_hop_slower_to_answer_data_than_to_connect_is_waited_for(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "CONNECT_TIMEOUT", 0.3)  # the wait for the connection only
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits())
    with smtp_sink(lmtp=True, handler=SlowFor(b"sieve", 1.0)) as (controller, store):
        hop = Hop("127.0.0.1", controller.port, protocol="lmtp")
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\nsieve filters run\r\n")})
        results: list[Result] = []
        asyncio.run(sender.send_group(hop, [item], results))
    [result] = results
    assert result.status is Status.SENT, result.reply  # not deferred, to be stored twice
    assert len(store.messages) == 1


class HeloOnly(RecordingHandler):
    async def handle_EHLO(self, server: object, session: object, envelope: object,
                          hostname: str, responses: list[str]) -> list[str]:
        return ['500 Error: command "EHLO" not recognized']


def test_a_server_that_refuses_ehlo_is_greeted_with_helo() -> None:
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits())
    with smtp_sink(handler=HeloOnly()) as (controller, store):
        hop = Hop("127.0.0.1", controller.port)
        sender = Sender({1: ("dana@example.net", b"Subject: x\r\n\nold server\r\n")})
        results: list[Result] = []
        asyncio.run(sender.send_group(hop, [item], results))
    [result] = results
    assert result.status is Status.SENT, result.reply
    assert len(store.messages) == 1


class DsnSMTP(SMTP):
    """A next hop that offers DSN and keeps the DSN parameters it is given."""

    given: ClassVar[list[tuple[str, str]]] = []

    def _getparams(self, params: Any) -> dict[str, Any] | None:
        result = super()._getparams(params)
        for key in ("RET", "ENVID", "NOTIFY", "ORCPT"):
            if result is not None and key in result:
                self.given.append((key, result.pop(key)))
        return result


class OffersDsn(RecordingHandler):
    def __init__(self) -> None:
        super().__init__()
        self.greeted_as: list[str] = []

    async def handle_EHLO(self, server: object, session: Any, envelope: object,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves it to an EHLO hook
        self.greeted_as.append(hostname)
        return [*responses[:-1], "250-DSN", responses[-1]]


class DsnController(Controller):
    def factory(self) -> SMTP:
        return DsnSMTP(self.handler, **self.SMTP_kwargs)


def sent_offering_dsn(item: Claimed, handler: OffersDsn, data: bytes, **server: Any) -> Result:
    """``item`` sent as ``data`` to a next hop offering DSN (its parameters in
    :attr:`DsnSMTP.given`)."""
    controller = DsnController(handler, hostname="127.0.0.1", port=free_port(), **server)
    controller.start()
    DsnSMTP.given.clear()
    try:
        results: list[Result] = []
        asyncio.run(Sender({1: ("dana@example.net", data)}).send_group(
            Hop("127.0.0.1", controller.port), [item], results))
    finally:
        controller.stop()
    return results[0]


def test_what_the_sender_asked_of_reports_is_passed_on_to_a_next_hop_offering_dsn() -> None:
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits(),
                   notify="FAILURE,DELAY", orcpt="rfc822;Ann+Lee=x@solarmora.com",
                   dsn_ret="HDRS", dsn_envid="QQ 314")
    assert remote.dsn_options(item) == (
        ["RET=HDRS", "ENVID=QQ+20314"],
        ["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;Ann+2BLee+3Dx@solarmora.com"])
    result = sent_offering_dsn(item, OffersDsn(), b"Subject: x\r\n\nreport if it fails\r\n")
    assert result.status is Status.SENT, result.reply
    # aiosmtpd reads parameters in upper case
    assert DsnSMTP.given == [("RET", "HDRS"), ("ENVID", "QQ+20314"),
                             ("NOTIFY", "FAILURE,DELAY"),
                             ("ORCPT", "RFC822;ANN+2BLEE+3DX@SOLARMORA.COM")]


def test_dsn_requests_pass_over_starttls_and_the_greeting_names_our_host(
        setting: Callable[..., None], tmp_path: Path) -> None:
    setting("CASEGATE_HOSTNAME", "mx.solarmora.com")
    item = Claimed(1, "Q1", "ann@solarmora.com", "ann@solarmora.com", "remote", None, False,
                   "", 1, "dana@example.net", datetime.now(UTC), CopyEdits(), notify="NEVER")
    handler = OffersDsn()
    result = sent_offering_dsn(item, handler, b"Subject: x\r\n\nover TLS\r\n",
                               tls_context=TestCA(tmp_path).issue("127.0.0.1").server_context())
    assert result.status is Status.SENT, result.reply
    assert handler.tls == [True]
    # STARTTLS forgets the extensions (RFC 3207 4.2): they are asked for again
    assert DsnSMTP.given == [("NOTIFY", "NEVER")]
    assert handler.greeted_as == ["mx.solarmora.com", "mx.solarmora.com"]


@pytest.mark.parametrize("lmtp", [False, True])
def test_an_address_that_is_not_ascii_goes_out_with_smtputf8_or_is_refused(
        lmtp: bool) -> None:
    item = Claimed(1, "Q1", "zoë@solarmora.com", "zoë@solarmora.com", "remote", None, False,
                   "", 1, "josé@example.net", datetime.now(UTC), CopyEdits())
    outbound = {1: ("josé@example.net", "Subject: x\r\n\ncafé\r\n".encode())}
    for offered in (True, False):
        controller_class = LMTPController if lmtp else Controller
        handler = RecordingHandler()
        controller = controller_class(handler, hostname="127.0.0.1", port=free_port(),
                                      enable_SMTPUTF8=offered)
        controller.start()
        try:
            results: list[Result] = []
            hop = Hop("127.0.0.1", controller.port, protocol="lmtp" if lmtp else "smtp")
            asyncio.run(Sender(outbound).send_group(hop, [item], results))
        finally:
            controller.stop()
        if offered:
            assert results[0].status is Status.SENT, results[0].reply
            assert handler.messages[0][:2] == ("josé@example.net", ["zoë@solarmora.com"])
        else:
            assert results[0].status is Status.REFUSED and "5.6.7" in results[0].reply
            assert handler.messages == []


def test_a_failed_tlsa_lookup_makes_mail_wait_only_for_a_host_in_a_signed_zone(
        setting: Callable[..., None]) -> None:
    tlsa_name = "_25._tcp.mx.partner.example."
    with LocalDNS({"mx.partner.example.": {"A": ["192.0.2.25"]}},
                  failing={tlsa_name}) as server:
        setting("CASEGATE_DNS_SERVERS", server.address)
        hop = remote.Hop("mx.partner.example", 25)
        assert asyncio.run(remote._dane(hop)) == ()  # unsigned: its name servers are broken
        server.validated.add("mx.partner.example.")
        with pytest.raises(remote._TlsaLookupFailed):
            asyncio.run(remote._dane(hop))
