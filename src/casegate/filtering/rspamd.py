"""rspamd as the gateway's spam classifier: ``POST /checkv2`` with the message and its
envelope, over one pool of kept-alive connections (aiohttp).

rspamd's actions map to the gateway's (:class:`SpamAction`): ``reject`` refuses the message
(550), ``soft reject`` and ``greylist`` ask the sender to retry (451), ``add header`` and
``rewrite subject`` make it spam (routing decides: rules with "bypass spam filter" deliver
it, other mail is quarantined), ``no action`` is ham.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from casegate.config import get_config
from casegate.filtering.classifiers import InboundMessage, SpamVerdict
from casegate.filtering.scanners import ExternalScanner, ScannerUnavailable, scan_reason
from casegate.filtering.vocabulary import SpamAction

ACTIONS = {
    "no action": SpamAction.HAM,
    "greylist": SpamAction.GREYLIST,
    "add header": SpamAction.SPAM,
    "rewrite subject": SpamAction.SPAM,
    "soft reject": SpamAction.SOFT_REJECT,
    "reject": SpamAction.REJECT,
    # rspamd's own quarantine and discard (configured in its actions): spam here, held by
    # routing's quarantine unless a rule bypasses the filter; never thrown away unseen.
    "quarantine": SpamAction.SPAM,
    "discard": SpamAction.SPAM,
}


def envelope_headers(message: InboundMessage) -> list[tuple[str, str]]:
    """The SMTP envelope as rspamd's protocol passes it: one ``Rcpt`` per recipient."""
    headers = [("Queue-Id", message.queue_id), ("Helo", message.helo),
               ("From", message.mail_from), ("IP", message.peer_ip or "")]
    headers += [("Rcpt", rcpt) for rcpt in message.rcpt_tos]
    return [(name, value) for name, value in headers if value]


def rspamd_verdict(answer: Mapping[str, Any]) -> SpamVerdict:
    """The verdict in rspamd's ``/checkv2`` answer."""
    word = answer.get("action")
    action = ACTIONS.get(word) if isinstance(word, str) else None
    if action is None:
        raise ScannerUnavailable(f"rspamd answered an unknown action {word!r}")
    try:
        score = float(answer.get("score", 0.0))
        required = float(answer.get("required_score", 0.0))
        symbols: dict[str, float | None] = {
            name: round(float(symbol.get("score", 0.0)), 3)
            for name, symbol in (answer.get("symbols") or {}).items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise ScannerUnavailable(f"rspamd's answer is malformed ({exc})") from None
    messages = answer.get("messages")
    reply = messages.get("smtp_message", "") if isinstance(messages, dict) else ""
    return SpamVerdict(action, scan_reason(RspamdClassifier.name, str(word), score, required,
                                           symbols),
                       RspamdClassifier.name, score, required, symbols, str(word),
                       str(reply) if reply else "")


class RspamdClassifier(ExternalScanner):
    """Asks rspamd's normal worker (CASEGATE_RSPAMD_URL) about each message."""

    name = "rspamd"

    def __init__(self, url: str | None = None, timeout: float | None = None,
                 unavailable: str | None = None) -> None:
        config = get_config()
        super().__init__(config.rspamd_timeout if timeout is None else timeout,
                         unavailable or config.rspamd_unavailable)
        self.url = f"{url or config.rspamd_url}/checkv2"
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> aiohttp.ClientSession:
        """One connection pool for every scan of the event loop (the gateway's)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
            self._loop = loop
        return self._session

    async def scan(self, message: InboundMessage) -> SpamVerdict:
        try:
            async with self._pool().post(self.url, data=message.raw,
                                         headers=envelope_headers(message)) as response:
                body = await response.read()
                if response.status != 200:
                    raise ScannerUnavailable(f"rspamd answered HTTP {response.status}: "
                                             f"{body[:200].decode(errors='replace')}")
        except aiohttp.ClientError as exc:
            raise ScannerUnavailable(f"{type(exc).__name__}: {exc}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise ScannerUnavailable("rspamd's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ScannerUnavailable("rspamd's answer is not a JSON object")
        return rspamd_verdict(answer)

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
