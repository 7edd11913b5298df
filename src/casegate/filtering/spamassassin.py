"""SpamAssassin as the gateway's spam classifier, through spamd's protocol (aiospamc).

spamd answers spam or not, with a score, its threshold and the names of the rules that
hit (``SYMBOLS``); it has no reject or greylist of its own, so spam is spam: routing
decides (rules with "bypass spam filter" deliver it, other mail is quarantined).
"""

from __future__ import annotations

import aiospamc
from aiospamc.exceptions import ClientException, TimeoutException
from aiospamc.responses import ResponseException

from casegate.config import get_config
from casegate.filtering.classifiers import InboundMessage, SpamVerdict
from casegate.filtering.scanners import ExternalScanner, ScannerUnavailable, scan_reason
from casegate.filtering.vocabulary import SpamAction


class SpamAssassinClassifier(ExternalScanner):
    """Asks spamd (CASEGATE_SPAMD_ADDRESS) about each message; one connection a message,
    as spamd's protocol has it."""

    name = "spamassassin"

    def __init__(self, address: tuple[str, int] | None = None, timeout: float | None = None,
                 unavailable: str | None = None) -> None:
        config = get_config()
        super().__init__(config.spamd_timeout if timeout is None else timeout,
                         unavailable or config.spamd_unavailable)
        self.host, self.port = address or config.spamd_address

    async def scan(self, message: InboundMessage) -> SpamVerdict:
        try:
            response = await aiospamc.symbols(
                message.raw, host=self.host, port=self.port,
                timeout=aiospamc.Timeout(total=self.timeout))
        except (ClientException, ResponseException, TimeoutException, OSError) as exc:
            raise ScannerUnavailable(f"{type(exc).__name__}: {exc}") from None
        spam = response.headers.spam
        if spam is None:
            raise ScannerUnavailable("spamd's answer has no Spam header")
        names = response.body.decode("ascii", errors="replace").strip()
        symbols: dict[str, float | None] = {name.strip(): None for name in names.split(",")
                                            if name.strip()}
        word = "spam" if spam.value else "ham"
        return SpamVerdict(SpamAction.SPAM if spam.value else SpamAction.HAM,
                           scan_reason(self.name, word, spam.score, spam.threshold, symbols),
                           self.name, spam.score, spam.threshold, symbols, word)
