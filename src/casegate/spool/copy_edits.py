"""What the rules change in one delivery's copy of a message, as the delivery stores it.

The routing engine writes it for each accepted recipient
(:meth:`casegate.routing.engine.Edits.written`), the gateway merges the edits of
recipients that lead to the same copy, the queue keeps it in ``Delivery.edits`` and
:func:`casegate.delivery.edits.apply_edits` applies it to the bytes that copy sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CopyEdits:
    """Headers to prepend (in order), a subject prefix, and two switches that only ever
    make a copy safer."""

    headers: tuple[tuple[str, str], ...] = ()
    subject_prefix: str = ""
    remove_attachments: bool = False
    require_tls: bool = False

    def merged(self, other: CopyEdits) -> CopyEdits:
        """The edits of one copy that two envelope recipients lead to: the headers of both
        (these first, none of the other's twice), this subject prefix or else the other's,
        and the safer of each switch (attachments removed, TLS required)."""
        if other in (self, NO_COPY_EDITS):
            return self
        return CopyEdits(
            self.headers + tuple(h for h in other.headers if h not in self.headers),
            self.subject_prefix or other.subject_prefix,
            self.remove_attachments or other.remove_attachments,
            self.require_tls or other.require_tls,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``Delivery.edits`` column: only what is set, in this order, headers as
        ``[name, value]`` pairs; ``{}`` when the copy is sent as it came."""
        stored: dict[str, Any] = {}
        if self.headers:
            stored["headers"] = [[name, value] for name, value in self.headers]
        if self.subject_prefix:
            stored["subject_prefix"] = self.subject_prefix
        if self.remove_attachments:
            stored["remove_attachments"] = True
        if self.require_tls:
            stored["require_tls"] = True
        return stored

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> CopyEdits:
        """The edits a ``Delivery.edits`` column holds (written by :meth:`to_json`, or by
        earlier versions as the same keys in any order)."""
        if not stored:
            return NO_COPY_EDITS
        return cls(
            tuple((str(name), str(value)) for name, value in stored.get("headers") or ()),
            str(stored.get("subject_prefix") or ""),
            bool(stored.get("remove_attachments")),
            bool(stored.get("require_tls")),
        )


NO_COPY_EDITS = CopyEdits()
