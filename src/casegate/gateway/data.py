"""Reading DATA: the message's bytes up to the line holding a single dot, as RFC 5321 §4.5.2
and §4.5.3.1.6 have them, read in chunks rather than a line at a time.

A line ends at its LF, whether a CR comes before it or not: a message whose lines end in a
bare LF is taken line by line and stored with CRLF. Only a dot line between two CRLFs ends
DATA, so ``\\n.\\n`` or ``\\n.\\r\\n`` stays content (a message is never split in two). The
leading dot of every other line starting with one is the sender's transparency dot and is
taken away, except on a line next to a bare LF, which is kept as it was sent.

A line over :data:`MAX_LINE` bytes (with its CRLF), or more than the size limit in all, is
not stored: DATA is read to its end and answered with the first of the two that happened,
as aiosmtpd answers them.
"""

from __future__ import annotations

import asyncio
import re

MAX_LINE = 998 + 2  # RFC 5321 4.5.3.1.6: 998 characters plus CRLF
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH = "552 Error: Too much mail data"
_END = b"\r\n.\r\n"
_OVER_LONG = re.compile(rb"[^\n]{%d}" % MAX_LINE)  # a line over MAX_LINE with its LF


async def read_data(reader: asyncio.StreamReader, size_limit: int | None) -> bytes | str:
    """DATA's content, or the reply refusing it (:data:`TOO_LONG`, :data:`TOO_MUCH`).

    Reads up to each ``.\\r\\n`` (a line ending in a dot, or the end) and, when there is
    none within the reader's limit, what it holds: a few reads for a message, not one a line.
    """
    # Enough to tell which limit a refused message broke first; the rest is only scanned.
    keep = size_limit + 2 * MAX_LINE if size_limit else None
    sent = bytearray()
    cut = False
    tail = b""  # the last bytes read, where the end is looked for
    while True:
        try:
            chunk = await reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as overrun:
            chunk = await reader.readexactly(overrun.consumed)
        if not cut:
            sent += chunk
            if keep is not None and len(sent) > keep:
                cut = True
                del sent[keep:]
        tail = (tail + chunk)[-len(_END):]
        if tail == _END or tail == b".\r\n":  # the latter: DATA is that line alone
            break
    body = b"" if tail == b".\r\n" else bytes(sent if cut else sent[:-3])
    return content_of(body, size_limit, complete=not cut)


def content_of(body: bytes, size_limit: int | None, complete: bool = True) -> bytes | str:
    """The content of DATA whose lines, as sent, are ``body`` (the ending dot line left
    out), or the reply refusing it. ``complete`` False: ``body`` is only DATA's start."""
    plain = (complete and body.count(b"\n") == body.count(b"\r\n")
             and not (size_limit and len(body) > size_limit) and not _OVER_LONG.search(body))
    if plain:  # every line ends in CRLF and is short: the common case, without a loop
        content = body[1:] if body.startswith(b".") else body
        return content.replace(b"\r\n.", b"\r\n")
    return _line_by_line(body, size_limit)


def _line_by_line(body: bytes, size_limit: int | None) -> bytes | str:
    lines = body.split(b"\n")
    last = lines.pop()  # "" after the final LF, or the start of a line DATA was cut in
    kept: list[bytes] = []
    refusal = ""
    after_crlf = True
    sent_bytes = 0
    for start in lines:
        ends_in_crlf = start.endswith(b"\r")
        line = (start[:-1] if ends_in_crlf else start) + b"\r\n"
        if not (after_crlf and ends_in_crlf) and line.startswith(b"."):
            line = b"." + line  # next to a bare LF: the dot is content
        after_crlf = ends_in_crlf
        if not refusal and len(start) > MAX_LINE:
            refusal = TOO_LONG  # beyond the reader's limit: refused before it is counted
        sent_bytes += len(line)
        if not refusal and size_limit and sent_bytes > size_limit:
            refusal = TOO_MUCH
        if not refusal and len(line) > MAX_LINE:
            refusal = TOO_LONG
        if not refusal:
            kept.append(line[1:] if line.startswith(b".") else line)
    if not refusal and len(last) > MAX_LINE:
        refusal = TOO_LONG
    return refusal or b"".join(kept)
