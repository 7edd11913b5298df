"""Spam classification before routing: a small pluggable interface and a baseline.

A classifier is any object with a ``name`` and a ``classify(message)`` method giving a
:class:`SpamVerdict`: ``async def`` for one that asks another program (rspamd, spamd), so a
slow scan never holds up the other SMTP sessions; a plain ``def`` for one that only looks at
the message, which then costs the event loop no task of its own. The ones
to use are named by ``CASEGATE_CLASSIFIERS`` (comma-separated: a short name of the
configuration's ``BUILT_IN_CLASSIFIERS`` or a dotted path); ``CASEGATE_RSPAMD_URL`` adds
rspamd in front of them.
Classification runs in the gateway before routing, so a rule's "bypass spam filter" option
can decide what happens to spam.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from casegate.config import BUILT_IN_CLASSIFIERS, get_config
from casegate.errors import CasegateError
from casegate.filtering.vocabulary import STRENGTH, SpamAction
from casegate.mail.headers import HeaderFields

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
REASON_LENGTH = 200  # the stored spam_reason column


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    """A classifier's answer: what to do (``action``), why, and the filter's own figures."""

    action: SpamAction = SpamAction.HAM
    reason: str = ""
    classifier: str = ""
    score: float | None = None
    required_score: float | None = None
    # symbol (rule) name -> its score, or None when the filter does not say
    symbols: dict[str, float | None] = field(default_factory=dict, hash=False)
    filter_action: str = ""  # the filter's own word for its action ("add header")
    reply: str = ""  # what the filter asks the sender to be told when it refuses the message

    @property
    def spam(self) -> bool:
        return self.action == SpamAction.SPAM

    @property
    def scanned(self) -> bool:
        return self.action not in (SpamAction.NOT_SCANNED, SpamAction.TEMPFAIL)

    def report(self) -> dict[str, object]:
        """What a message keeps of its verdict (``Message.spam_report``); empty when no
        classifier ran."""
        if not self.classifier:
            return {}
        return {"classifier": self.classifier, "action": str(self.action),
                "filter_action": self.filter_action, "scanned": self.scanned,
                "score": self.score, "required_score": self.required_score,
                "symbols": dict(self.symbols), "reason": self.reason}


NOT_SPAM = SpamVerdict()


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """What a classifier sees: the raw bytes, the parsed headers and the SMTP envelope."""

    raw: bytes
    headers: HeaderFields
    peer_ip: str | None
    peer_trusted: bool
    mail_from: str = ""
    rcpt_tos: tuple[str, ...] = ()
    helo: str = ""
    queue_id: str = ""


class Classifier(Protocol):
    name: str

    def classify(self, message: InboundMessage) -> SpamVerdict | Awaitable[SpamVerdict]: ...


class GtubeClassifier:
    """Flags the GTUBE test string, as every spam filter does, so the path can be tested."""

    name = "gtube"

    def classify(self, message: InboundMessage) -> SpamVerdict:
        if GTUBE in message.raw:
            return SpamVerdict(SpamAction.SPAM, "GTUBE test string", self.name)
        return SpamVerdict(classifier=self.name)


class TrustedUpstreamFlag:
    """Honours ``X-Spam-Flag: YES`` only when a trusted host (CASEGATE_TRUSTED_NETWORKS) sent it."""

    name = "trusted-flag"

    def classify(self, message: InboundMessage) -> SpamVerdict:
        flag = message.headers.get("X-Spam-Flag") if message.peer_trusted else None
        if flag is not None and flag.upper() == "YES":
            return SpamVerdict(SpamAction.SPAM, "X-Spam-Flag: YES from a trusted upstream filter",
                               self.name)
        return SpamVerdict(classifier=self.name)


class ClassifierError(CasegateError):
    """A classifier named in CASEGATE_CLASSIFIERS cannot be loaded."""


def load_classifiers(spec: str | None = None) -> list[Classifier]:
    """The classifiers ``spec`` (default: CASEGATE_CLASSIFIERS) names, in its order, with
    rspamd in front when CASEGATE_RSPAMD_URL is set and the list does not name it."""
    config = get_config()
    spec = spec if spec is not None else config.classifiers
    named = filter(None, (part.strip() for part in spec.split(",")))
    names = [BUILT_IN_CLASSIFIERS.get(name, name) for name in named]
    if config.rspamd_url and BUILT_IN_CLASSIFIERS["rspamd"] not in names:
        names.insert(0, BUILT_IN_CLASSIFIERS["rspamd"])
    if not config.rspamd_url and BUILT_IN_CLASSIFIERS["rspamd"] in names:
        raise ClassifierError("CASEGATE_CLASSIFIERS names rspamd but CASEGATE_RSPAMD_URL is empty;"
                              " set it to rspamd's address, such as http://127.0.0.1:11333")
    classifiers: list[Classifier] = []
    for dotted in names:
        module_name, _, attr = dotted.rpartition(".")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ClassifierError(f"CASEGATE_CLASSIFIERS: cannot load {dotted!r} ({exc})") from None
        classifiers.append(factory())
    return classifiers


async def classify(message: InboundMessage, classifiers: list[Classifier]) -> SpamVerdict:
    """Every classifier at once; the strongest verdict decides (:class:`SpamAction`'s order:
    reject, then soft reject, greylist, tempfail, spam, not scanned, ham), the first in the
    list among equals. No classifier at all: not spam."""
    if not classifiers:
        return NOT_SPAM
    answers = [c.classify(message) for c in classifiers]
    waiting = [answer for answer in answers if not isinstance(answer, SpamVerdict)]
    scanned = iter([await waiting[0]] if len(waiting) == 1 else await asyncio.gather(*waiting))
    verdicts = [a if isinstance(a, SpamVerdict) else next(scanned) for a in answers]
    return max(verdicts, key=lambda verdict: STRENGTH[verdict.action])


async def close_classifiers(classifiers: list[Classifier]) -> None:
    """Let go of what the classifiers hold open (connection pools), at shutdown."""
    for classifier in classifiers:
        close = getattr(classifier, "aclose", None)
        if close is not None:
            await close()
