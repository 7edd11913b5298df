"""``casegate deliver``: one message from a mail server's pipe (Postfix's ``pipe``, a
``.forward``), answered with the exit status a mail server understands (sysexits.h)."""

from __future__ import annotations

import asyncio
import logging
from typing import BinaryIO

from casegate.config import Config
from casegate.gateway.admission import Admitted
from casegate.gateway.local import LocalDoor
from casegate.gateway.mail_files import with_crlf
from casegate.spool.vocabulary import Source

log = logging.getLogger("casegate.gateway")

EX_OK = 0
EX_DATAERR = 65  # the input is not a message (too big)
EX_NOUSER = 67  # an unknown recipient: the mail server bounces
EX_UNAVAILABLE = 69  # refused for good for another reason: the mail server bounces
EX_TEMPFAIL = 75  # try again later: the mail server keeps the message queued


def exit_status(admitted: Admitted) -> int:
    if admitted.stored:
        return EX_OK
    if admitted.reply.startswith("4"):
        return EX_TEMPFAIL
    if admitted.reply.startswith(("550 5.1.1", "553 5.1.3")):
        return EX_NOUSER
    return EX_UNAVAILABLE


async def _deliver(content: bytes, recipients: list[str], sender: str,
                   config: Config) -> Admitted:
    async with LocalDoor(config, Source.PIPE) as door:
        return await door.admit(content, recipients, sender)


def deliver_from(stream: BinaryIO, recipients: list[str], sender: str,
                 config: Config) -> tuple[int, str]:
    """Read one message from ``stream`` and store it; the exit status and the reply."""
    # Up to twice the limit: a message of bare LFs grows by a byte a line when stored, and
    # is measured as SMTP measures it, with CRLF.
    content = with_crlf(stream.read(2 * config.max_message_size + 1))
    if content.startswith(b"From "):  # the mbox envelope line Postfix's local(8) writes
        content = content.partition(b"\r\n")[2]
    if len(content) > config.max_message_size:
        return EX_DATAERR, (f"552 5.3.4 Message too big: the limit is"
                            f" {config.max_message_size} bytes")
    try:
        admitted = asyncio.run(_deliver(content, recipients, sender, config))
    except Exception:  # the database is down, the disk is full: the mail server retries
        log.exception("deliver to=%s failed", ",".join(recipients))
        return EX_TEMPFAIL, "451 4.3.0 Temporary local problem; try again later"
    log.info("deliver to=%s status=%s reply=%r", ",".join(recipients),
             exit_status(admitted), admitted.reply)
    return exit_status(admitted), admitted.reply
