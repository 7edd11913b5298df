"""rspamd's answers as verdicts (the action mapping), the envelope it is given, and what a
scan becomes when rspamd does not answer, against a small stand-in HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from casegate.filtering.classifiers import InboundMessage, SpamVerdict
from casegate.filtering.rspamd import RspamdClassifier, envelope_headers, rspamd_verdict
from casegate.filtering.scanners import SCANS, ScannerUnavailable
from casegate.filtering.vocabulary import SpamAction
from casegate.mail.headers import HeaderFields
from tests.support import free_port

RAW = b"From: a@example.net\r\nSubject: hi\r\n\r\nhello\r\n"
MESSAGE = InboundMessage(RAW, HeaderFields(RAW), "192.0.2.10", False, "a@example.net",
                         ("help@solarmora.com", "sales@solarmora.com"), "client.example.net",
                         "0190ABCDEF")


def answer(action: str, score: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"action": action, "score": score, "required_score": 15.0,
            "symbols": {"ONCE_RECEIVED": {"name": "ONCE_RECEIVED", "score": 0.1},
                        "BIG": {"name": "BIG", "score": score - 0.1}}, **extra}


@pytest.mark.parametrize(("action", "expected"), [
    ("no action", SpamAction.HAM),
    ("greylist", SpamAction.GREYLIST),
    ("add header", SpamAction.SPAM),
    ("rewrite subject", SpamAction.SPAM),
    ("soft reject", SpamAction.SOFT_REJECT),
    ("reject", SpamAction.REJECT),
    ("quarantine", SpamAction.SPAM),  # rspamd's own, when configured: spam here
    ("discard", SpamAction.SPAM),
])
def test_each_rspamd_action_maps_to_the_gateways(action: str, expected: SpamAction) -> None:
    verdict = rspamd_verdict(answer(action, 7.0))
    assert verdict.action == expected
    assert verdict.filter_action == action
    assert verdict.classifier == "rspamd"
    assert (verdict.score, verdict.required_score) == (7.0, 15.0)
    assert verdict.symbols == {"ONCE_RECEIVED": 0.1, "BIG": 6.9}
    assert verdict.reason == f"rspamd: {action}, score 7.00 of 15.00 (BIG, ONCE_RECEIVED)"


def test_the_reject_message_is_the_reply() -> None:
    verdict = rspamd_verdict(answer("reject", 15, messages={"smtp_message": "Gtube pattern"}))
    assert verdict.reply == "Gtube pattern"


@pytest.mark.parametrize("bad", [
    {"action": "drop it"}, {"score": 3}, {"action": "reject", "score": "lots"},
    {"action": "reject", "symbols": {"X": "not an object"}},
])
def test_an_answer_without_a_known_action_or_figures_is_no_verdict(bad: dict[str, Any]) -> None:
    with pytest.raises(ScannerUnavailable):
        rspamd_verdict(bad)


def test_the_envelope_goes_as_rspamds_headers_one_rcpt_per_recipient() -> None:
    assert envelope_headers(MESSAGE) == [
        ("Queue-Id", "0190ABCDEF"), ("Helo", "client.example.net"), ("From", "a@example.net"),
        ("IP", "192.0.2.10"), ("Rcpt", "help@solarmora.com"), ("Rcpt", "sales@solarmora.com")]


def test_the_null_sender_and_a_missing_helo_are_left_out() -> None:
    message = InboundMessage(RAW, HeaderFields(RAW), None, False, "", ("x@solarmora.com",))
    assert envelope_headers(message) == [("Rcpt", "x@solarmora.com")]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


Seen = list[tuple[web.Request, bytes]]


async def _scan_with(handler: Handler, **options: Any) -> tuple[SpamVerdict, Seen]:
    """Scan MESSAGE with a classifier pointed at a stand-in rspamd answering with
    ``handler``; also the requests it saw, with their bodies."""
    seen: Seen = []

    async def recording(request: web.Request) -> web.StreamResponse:
        seen.append((request, await request.read()))
        return await handler(request)

    app = web.Application()
    app.router.add_post("/checkv2", recording)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    classifier = RspamdClassifier(f"http://127.0.0.1:{port}", **options)
    try:
        return await classifier.classify(MESSAGE), seen
    finally:
        await classifier.aclose()
        await runner.cleanup()


def scan_with(handler: Handler, **options: Any) -> tuple[SpamVerdict, Seen]:
    return asyncio.run(_scan_with(handler, **options))


def test_a_scan_posts_the_message_and_its_envelope() -> None:
    async def spam(request: web.Request) -> web.Response:
        return web.json_response(answer("add header", 8.0))

    verdict, [(request, body)] = scan_with(spam, timeout=5, unavailable="tempfail")
    assert verdict.action == SpamAction.SPAM and verdict.score == 8.0
    assert body == RAW
    assert request.headers.getall("Rcpt") == ["help@solarmora.com", "sales@solarmora.com"]
    assert request.headers["IP"] == "192.0.2.10"
    assert request.headers["Queue-Id"] == "0190ABCDEF"


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.json_response(answer("no action"))


async def _failing(request: web.Request) -> web.Response:
    return web.Response(status=500, text="internal error")


async def _not_json(request: web.Request) -> web.Response:
    return web.Response(text="<html>a proxy page</html>")


@pytest.mark.parametrize(("handler", "why"), [
    (_slow, "no answer within 0.3 s"),
    (_failing, "rspamd answered HTTP 500: internal error"),
    (_not_json, "rspamd's answer is not JSON"),
])
@pytest.mark.parametrize(("unavailable", "action"), [
    ("tempfail", SpamAction.TEMPFAIL), ("accept", SpamAction.NOT_SCANNED)])
def test_no_answer_in_time_is_a_tempfail_or_not_scanned_never_ham(
        handler: Handler, why: str, unavailable: str, action: SpamAction) -> None:
    before = SCANS.labels("rspamd", action)._value.get()
    verdict, _ = scan_with(handler, timeout=0.3, unavailable=unavailable)
    assert verdict.action == action
    assert verdict.reason == f"rspamd unavailable: {why}"
    assert verdict.report()["scanned"] is False
    assert SCANS.labels("rspamd", action)._value.get() == before + 1


def test_nothing_listening_is_unavailable() -> None:
    classifier = RspamdClassifier(f"http://127.0.0.1:{free_port()}", timeout=2,
                                  unavailable="accept")

    async def scan() -> SpamVerdict:
        try:
            return await classifier.classify(MESSAGE)
        finally:
            await classifier.aclose()

    verdict = asyncio.run(scan())
    assert verdict.action == SpamAction.NOT_SCANNED
    assert "ClientConnectorError" in verdict.reason
