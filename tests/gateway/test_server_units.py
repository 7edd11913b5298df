import pytest

from casegate.gateway.limits import SessionLimits
from casegate.gateway.server import with_enhanced_code


def test_error_replies_get_an_enhanced_code() -> None:
    assert with_enhanced_code("503 Error: need RCPT command") == "503 5.5.1 need RCPT command"
    assert with_enhanced_code("502 Command not implemented") == (
        "502 5.5.1 Command not implemented")
    assert with_enhanced_code("501 Syntax: MAIL FROM: <address>") == (
        "501 5.5.4 Syntax: MAIL FROM: <address>")


def test_replies_that_have_one_or_must_not_have_one_are_kept() -> None:
    assert with_enhanced_code("550 5.1.1 <x@y>: no such user") == "550 5.1.1 <x@y>: no such user"
    assert with_enhanced_code("354 End data with <CR><LF>.<CR><LF>") == (
        "354 End data with <CR><LF>.<CR><LF>")
    assert with_enhanced_code("250 mail.example.com") == "250 mail.example.com"


def test_session_lists_only_the_names_aiosmtpd_introspects() -> None:
    import asyncio

    from casegate.gateway.server import GatewaySMTP

    loop = asyncio.new_event_loop()
    try:
        session = GatewaySMTP(object(), set(), {}, SessionLimits(0, 0, bool), loop=loop,
                              hostname="gw.test")
    finally:
        loop.close()
    names = dir(session)
    assert "smtp_EHLO" in names and "smtp_DATA" in names and "smtp_STARTTLS" in names
    assert all(n.startswith(("smtp_", "auth_")) for n in names)


def _session():
    import asyncio

    from casegate.gateway.server import GatewaySMTP

    loop = asyncio.new_event_loop()
    try:
        return GatewaySMTP(object(), set(), {}, SessionLimits(0, 0, bool), loop=loop,
                           hostname="gw.test")
    finally:
        loop.close()


_PATHS = [
    "<dana@example.net>", "<dana@example.net> SIZE=100 BODY=8BITMIME", "<a.b+c@x-y.example>",
    "<>", "dana@example.net", "<\"quoted local\"@example.net>", "<a..b@example.net>",
    "<.a@example.net>", "<a@-bad.example>", "<a@[192.0.2.1]>", "<@route:a@example.net>",
    "<jörg@bücher.example>", "<a@example.net", "<a@b> NOTIFY=NEVER ORCPT=rfc822;A@B",
    " <a@example.net>", "<a@example.net.>", "<a@example..net>",
]


def _same_as_aiosmtpd(session, path: str) -> None:
    from aiosmtpd.smtp import SMTP

    try:
        expected = SMTP._getaddr(session, path)
    except Exception as exc:  # aiosmtpd's parser fails on some garbage; so must we
        with pytest.raises(type(exc)):
            session._getaddr(path)
        return
    assert session._getaddr(path) == expected, path


def test_fast_path_parsing_matches_aiosmtpd() -> None:
    session = _session()
    for path in _PATHS:
        _same_as_aiosmtpd(session, path)


def test_fast_path_parsing_matches_aiosmtpd_on_generated_paths() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    session = _session()
    alphabet = st.sampled_from(list("abcXYZ019.-+_=!#@<>\" []:;,é()\t"))

    @settings(max_examples=500, deadline=None)
    @given(st.text(alphabet, max_size=30),
           st.sampled_from(["", " SIZE=1", " RET=HDRS", "  (c) X=1", " ", "\tA=1 "]))
    def check(body: str, params: str) -> None:
        _same_as_aiosmtpd(session, f"<{body}>{params}")

    check()


def test_serve_notices_when_its_http_server_stops(caplog: pytest.LogCaptureFixture) -> None:
    from casegate.serve import HttpServer

    server = HttpServer("127.0.0.1", 0, "127.0.0.1:2525")

    def crash() -> None:
        raise ValueError("filedescriptor out of range in select()")

    server._server.run = crash  # type: ignore[method-assign]
    server.start()
    server._thread.join(5)
    server.stop()
    assert not server.running
    assert "http=failed" in caplog.text and "out of range" in caplog.text


def test_serve_uses_poll_not_select_for_http() -> None:
    from casegate.serve import HttpServer

    server = HttpServer("127.0.0.1", 0, "127.0.0.1:2525")
    server.stop()
    assert server._server.adj.asyncore_use_poll


def test_serve_raises_the_open_file_limit_to_the_hard_one() -> None:
    import resource

    from casegate.serve import raise_open_file_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard - 1), hard))
    assert raise_open_file_limit(100) == hard
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)


def test_the_transaction_ends_whenever_aiosmtpd_starts_a_new_envelope() -> None:
    from casegate.gateway.transaction import Transaction
    from casegate.routing.engine import build_table

    table = build_table(version=1, domains=(), accounts=(), groups={}, intakes={}, rules=())
    session = _session()
    assert session.idle
    for reset in (session._set_rset_state, session._set_post_data_state):  # RSET; after DATA
        session.transaction = Transaction(table, "FULL", "env-1")
        assert not session.idle
        reset()
        assert session.transaction is None and session.idle and session.envelope is not None


def test_a_multi_line_reply_is_written_once_with_its_last_line() -> None:
    import asyncio

    from aiosmtpd.smtp import Session

    class Writer:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

        async def drain(self) -> None:
            pass

    session = _session()
    writer = Writer()
    session._writer = writer
    session.session = Session(loop=None)

    async def ehlo_then_mail() -> None:
        for line in ("250-gw.test", "250-SIZE 1000", "250 HELP"):
            await session.push(line)
        await session.push("250 OK")

    asyncio.run(ehlo_then_mail())
    assert writer.writes == [b"250-gw.test\r\n250-SIZE 1000\r\n250 HELP\r\n", b"250 OK\r\n"]


def test_a_data_that_failed_leaves_no_envelope_to_the_next_message(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aiosmtpd.smtp import SMTP

    from casegate.gateway.transaction import Transaction
    from casegate.routing.engine import build_table

    async def failing_data(self: SMTP, arg: str) -> None:
        raise RuntimeError("a check failed")  # answered 451 by handle_exception

    monkeypatch.setattr(SMTP, "smtp_DATA", failing_data)
    session = _session()
    session.transaction = Transaction(
        build_table(version=1, domains=(), accounts=(), groups={}, intakes={}, rules=()),
        "FULL", "env-1")
    session.envelope = session._create_envelope()
    session.envelope.rcpt_tos.append("help@solarmora.com")

    async def data() -> None:
        session._reader = asyncio.StreamReader()
        await session.smtp_DATA("")

    with pytest.raises(RuntimeError):
        asyncio.run(data())
    assert session.transaction is None and session.envelope.rcpt_tos == []


def test_the_end_of_data_is_told_once_at_the_final_dot_only() -> None:
    import asyncio

    from casegate.gateway.server import BareLineFeeds

    ends: list[bytes] = []

    async def read_all() -> list[bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"a\n.\nb\r\n.x\r\n.\r\n")
        feeds = BareLineFeeds(reader, lambda: ends.append(b"end"))
        lines = []
        while not lines or lines[-1] != b".\r\n":
            lines.append(await feeds.readuntil())
            ends.append(lines[-1])
        return lines

    asyncio.run(read_all())
    # ".\n" after a bare LF is content (dot doubled); only the last line ends DATA.
    assert ends == [b"a\r\n", b"..\r\n", b"b\r\n", b".x\r\n", b"end", b".\r\n"]


def test_the_message_is_checked_and_stored_under_the_final_reply_s_ten_minutes() -> None:
    import asyncio

    from casegate.gateway.server import FINAL_REPLY_SECONDS

    session = _session()

    async def check() -> float:
        session.loop = asyncio.get_running_loop()
        session._timeout_duration = 5  # CASEGATE_SMTP_TIMEOUT
        session._reset_timeout()
        before = session._timeout_handle
        session._data_received()
        assert before.cancelled()
        left = session._timeout_handle.when() - session.loop.time()
        session._timeout_handle.cancel()
        return left

    assert FINAL_REPLY_SECONDS - 1 < asyncio.run(check()) <= FINAL_REPLY_SECONDS
