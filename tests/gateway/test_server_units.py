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
        session = GatewaySMTP(object(), set(), {}, loop=loop, hostname="gw.test")
    finally:
        loop.close()
    names = dir(session)
    assert "smtp_EHLO" in names and "smtp_DATA" in names and "smtp_STARTTLS" in names
    assert all(n.startswith(("smtp_", "auth_")) for n in names)
