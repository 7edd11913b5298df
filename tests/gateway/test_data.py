"""DATA read in chunks gives what reading it a line at a time gave (aiosmtpd's loop, with
lines ending in a bare LF taken as lines), whatever the bytes and however they arrive."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.gateway.data import MAX_LINE, TOO_LONG, TOO_MUCH, read_data


async def read_line_by_line(reader: asyncio.StreamReader, size_limit: int) -> bytes | str:
    """The reference: aiosmtpd 1.4's DATA loop over a reader that ends lines at LF."""
    after_crlf, cr_read = True, False
    data: list[bytes] = []
    fragments: list[bytes] = []
    state = ""
    sent = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
            ends_in_crlf = line.endswith(b"\r\n") or (line == b"\n" and cr_read)
            cr_read = False
            proper = after_crlf and ends_in_crlf
            after_crlf = ends_in_crlf
            line = line.removesuffix(b"\r\n").removesuffix(b"\n") + b"\r\n"
            if not proper and line.startswith(b"."):
                line = b"." + line
        except asyncio.LimitOverrunError as overrun:
            state = state or TOO_LONG
            data.clear()
            line = await reader.read(overrun.consumed)
            after_crlf, cr_read = False, line.endswith(b"\r")
        if not fragments and line == b".\r\n":
            break
        sent += len(line)
        if not state and sent > size_limit:
            state = TOO_MUCH
            data.clear()
        fragments.append(line)
        if line.endswith(b"\r\n"):
            if not state:
                whole = b"".join(fragments)
                if len(whole) > MAX_LINE:
                    state = TOO_LONG
                    data.clear()
                else:
                    data.append(whole)
            fragments.clear()
    if state:
        return state
    return b"".join(line[1:] if line.startswith(b".") else line for line in data)


def run(read: object, chunks: list[bytes], size_limit: int) -> bytes | str:
    async def go() -> bytes | str:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_data(b"MAIL FROM:<next@example.net>\r\n")  # pipelined after DATA
        result = await read(reader, size_limit)  # type: ignore[operator]
        assert await reader.readline() == b"MAIL FROM:<next@example.net>\r\n"
        return result
    return asyncio.run(go())


_PIECES = st.sampled_from([b"a", b"text ", b".", b"..", b"\r\n", b"\n", b"\r", b"\r\n.\n",
                           b"\n.\r\n", b"x" * 997, b"y" * 999, b"z" * 1500, b"\xc3\xa9"])


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[bytes], int]:
    body = b"".join(draw(st.lists(_PIECES, max_size=12)))
    stream = body + (b"" if not body or body.endswith(b"\r\n") else b"\r\n") + b".\r\n"
    if stream.startswith(b".\r\n"):  # the first end ends DATA
        stream = b".\r\n"
    elif b"\r\n.\r\n" in stream:
        stream = stream[:stream.index(b"\r\n.\r\n") + 5]
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return [c for c in chunks if c], draw(st.sampled_from([10, 2000, 3000, 100_000]))


@settings(max_examples=400, deadline=None)
@given(sessions())
def test_chunks_read_as_lines_do(session: tuple[list[bytes], int]) -> None:
    chunks, size_limit = session
    assert run(read_data, chunks, size_limit) == run(read_line_by_line, chunks, size_limit)


def test_what_the_reader_keeps_and_refuses() -> None:
    assert run(read_data, [b"Subject: x\r\n\r\n..hidden\r\n.\r\n"], 1000) == (
        b"Subject: x\r\n\r\n.hidden\r\n")
    assert run(read_data, [b".\r\n"], 1000) == b""
    assert run(read_data, [b"a\nb\r\n.\r\n"], 1000) == b"a\r\nb\r\n"
    assert run(read_data, [b"x" * 999 + b"\r\n.\r\n"], 10_000) == TOO_LONG
    assert run(read_data, [b"x\r\n" * 100 + b".\r\n"], 30) == TOO_MUCH
    assert run(read_data, [b"x" * 5000 + b"\r\n" + b"y\r\n" * 20_000 + b".\r\n"], 100) == (
        TOO_LONG)
