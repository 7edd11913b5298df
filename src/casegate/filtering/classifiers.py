"""Spam classification before routing: a small pluggable interface and a baseline.

A classifier is any object with ``classify(message) -> SpamVerdict``. The ones to use are
named by ``CASEGATE_CLASSIFIERS`` (comma-separated dotted paths); the default is the
baseline below. Classification runs in the gateway before routing, so a rule's
"bypass spam filter" option can decide what happens to spam.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from casegate.config import get_config
from casegate.errors import CasegateError
from casegate.mail.headers import HeaderFields

GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    spam: bool
    reason: str = ""


NOT_SPAM = SpamVerdict(False)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """What a classifier sees: the raw bytes, the parsed headers and where it came from."""

    raw: bytes
    headers: HeaderFields
    peer_ip: str | None
    peer_trusted: bool


class Classifier(Protocol):
    def classify(self, message: InboundMessage) -> SpamVerdict: ...


class GtubeClassifier:
    """Flags the GTUBE test string, as every spam filter does, so the path can be tested."""

    def classify(self, message: InboundMessage) -> SpamVerdict:
        if GTUBE in message.raw:
            return SpamVerdict(True, "GTUBE test string")
        return NOT_SPAM


class TrustedUpstreamFlag:
    """Honours ``X-Spam-Flag: YES`` only when a trusted host (CASEGATE_TRUSTED_NETWORKS) sent it."""

    def classify(self, message: InboundMessage) -> SpamVerdict:
        if not message.peer_trusted:
            return NOT_SPAM
        flag = message.headers.get("X-Spam-Flag")
        if flag is not None and flag.upper() == "YES":
            return SpamVerdict(True, "X-Spam-Flag: YES from a trusted upstream filter")
        return NOT_SPAM


class ClassifierError(CasegateError):
    """A classifier named in CASEGATE_CLASSIFIERS cannot be loaded."""


def load_classifiers(spec: str | None = None) -> list[Classifier]:
    spec = spec if spec is not None else get_config().classifiers
    classifiers: list[Classifier] = []
    for dotted in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attr = dotted.rpartition(".")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ClassifierError(f"CASEGATE_CLASSIFIERS: cannot load {dotted!r} ({exc})") from None
        classifiers.append(factory())
    return classifiers


def classify(message: InboundMessage, classifiers: list[Classifier]) -> SpamVerdict:
    """The first classifier that says spam decides; otherwise the message is not spam."""
    for classifier in classifiers:
        verdict = classifier.classify(message)
        if verdict.spam:
            return verdict
    return NOT_SPAM
