"""The Authentication-Results header we write, and removing forged ones."""

from __future__ import annotations

import dataclasses

import authres

from casegate.filtering.auth_policy import Decision
from casegate.filtering.auth_results import (
    authserv_id_of,
    from_forged,
    header_field,
    header_value,
    resinfos,
    result_text,
    verdicts,
    without_our_results,
)
from casegate.filtering.sender_checks import Arc, Dmarc, SenderReport, Signature
from casegate.filtering.vocabulary import AuthResult, DmarcPolicy

NO_ARC = Arc(AuthResult.NONE)


def test_the_authserv_id_is_the_first_token_after_comments() -> None:
    assert authserv_id_of("GW.test; spf=pass") == "gw.test"
    assert authserv_id_of(" (made up) gw.test 1; dkim=pass") == "gw.test"
    assert authserv_id_of("gw.test;dmarc=pass") == "gw.test"
    assert authserv_id_of("") == ""
    assert authserv_id_of("(x (y) z) gw.test; dmarc=pass") == "gw.test"  # comments nest
    assert authserv_id_of("(c\\) x) gw.test; dmarc=pass") == "gw.test"  # a quoted pair
    assert authserv_id_of("(left open gw.test; dmarc=pass") == ""
    assert authserv_id_of('"gw.test"; dmarc=pass') == "gw.test"  # a quoted string
    assert authserv_id_of('"gw\\.test" (c); dmarc=pass') == "gw.test"


def test_only_results_claiming_our_authserv_id_are_removed() -> None:
    raw = (b"Authentication-Results: Gw.Test;\r\n\tdmarc=pass header.from=solarmora.com\r\n"
           b"Authentication-Results: (a (nested) comment) gw.test; dmarc=pass\r\n"
           b"Authentication-Results: (left open gw.test; dmarc=pass\r\n"
           b"Authentication-Results: gw.test.example; spf=pass\r\n"
           b"Subject: hi\r\n\r\nAuthentication-Results: gw.test; in the body\r\n")
    assert without_our_results(raw, "gw.test") == (
        b"Authentication-Results: gw.test.example; spf=pass\r\n"
        b"Subject: hi\r\n\r\nAuthentication-Results: gw.test; in the body\r\n")


def report(mail_from: str = "dana@example.net", arc: Arc = NO_ARC
           ) -> SenderReport:
    return SenderReport(
        spf=AuthResult.PASS, spf_domain="example.net", mail_from=mail_from,
        helo="mx.example.net", peer_ip="192.0.2.7",
        dkim=(Signature("example.net", "s1", AuthResult.PASS),
              Signature("esp.example", "k2", AuthResult.FAIL, "body hash mismatch")),
        from_domains=("example.net",),
        dmarc=Dmarc(AuthResult.FAIL, "example.net", DmarcPolicy.REJECT, DmarcPolicy.REJECT),
        arc=arc)


def test_one_result_per_check_and_per_signature() -> None:
    results = resinfos(report(), Decision())
    assert results == [
        "spf=pass smtp.mailfrom=dana@example.net",
        "dkim=pass header.d=example.net header.s=s1",
        "dkim=fail (body hash mismatch) header.d=esp.example header.s=k2",
        "dmarc=fail (p=reject dis=reject) header.from=example.net",
        "arc=none smtp.remote-ip=192.0.2.7",
    ]
    assert header_value("gw.test", results[:1]) == (
        "gw.test; spf=pass smtp.mailfrom=dana@example.net")
    field = header_field("gw.test", results[:2])
    assert field == (b"Authentication-Results: gw.test;\r\n\tspf=pass"
                     b" smtp.mailfrom=dana@example.net;\r\n\tdkim=pass header.d=example.net"
                     b" header.s=s1\r\n")
    parsed = authres.AuthenticationResultsHeader.parse(field.decode().replace("\r\n\t", " "))
    assert [r.method for r in parsed.results] == ["spf", "dkim"]


def test_the_null_sender_s_spf_names_the_helo_and_no_signature_is_dkim_none() -> None:
    bounce = report(mail_from="")
    results = resinfos(SenderReport(**{**{f: getattr(bounce, f) for f in bounce.__slots__},
                                       "dkim": ()}), Decision())
    assert results[:2] == ["spf=pass smtp.helo=mx.example.net", "dkim=none"]


def test_an_arc_override_is_recorded() -> None:
    sealed = Arc(AuthResult.PASS, "lists.example", 2, "pass", "example.net")
    results = resinfos(report(arc=sealed), Decision(arc_override="lists.example"))
    assert results[-2:] == [
        "dmarc=fail (p=reject dis=none; trusted ARC sealer lists.example recorded dmarc=pass)"
        " policy.arc-override=lists.example header.from=example.net",
        "arc=pass (i=2 sealed by lists.example) smtp.remote-ip=192.0.2.7",
    ]


def test_verdicts_read_each_check_and_a_dkim_pass_among_signatures() -> None:
    value = header_value("gw.test", [
        "spf=softfail smtp.mailfrom=example.net", "dkim=fail header.d=a.example",
        "dkim=pass header.d=b.example", "dkim=none",
        "dmarc=fail (p=reject dis=none; trusted ARC sealer x.example recorded dmarc=pass)"
        " header.from=example.net", "arc=pass"])
    assert verdicts(value) == {"spf": "softfail", "dkim": "pass", "dmarc": "fail", "arc": "pass"}
    assert list(verdicts("gw.test; dmarc=none; spf=pass")) == ["spf", "dmarc"]
    assert verdicts("") == {}
    assert result_text("dmarc", "fail") in value and result_text("dmarc", "pass") not in value


def test_what_a_client_said_cannot_pass_for_a_result() -> None:
    said = dataclasses.replace(report(mail_from=""), helo="mx.example; dmarc=pass")
    value = header_value("gw.test", resinfos(said, Decision()))
    assert verdicts(value)["dmarc"] == "fail"
    assert result_text("dmarc", "pass") not in value
    # a parenthesis in a quoted sender opens no comment that would hide what follows
    hidden = dataclasses.replace(report(mail_from='"a(b"@evil.example'))
    assert verdicts(header_value("gw.test", resinfos(hidden, Decision())))["dmarc"] == "fail"
    # nor does a quoted pair end a quoted string early
    assert verdicts('gw.test; spf=pass smtp.helo="a\\";dmarc=pass"; dmarc=fail') == {
        "spf": "pass", "dmarc": "fail"}


def test_a_from_is_forged_where_dmarc_fails_and_no_trusted_sealer_vouches() -> None:
    sealed = Arc(AuthResult.PASS, "lists.example", 2, "pass", "example.net")
    vouched = header_value("gw.test", resinfos(report(arc=sealed),
                                               Decision(arc_override="lists.example")))
    assert not from_forged(vouched)
    failing = header_value("gw.test", resinfos(report(), Decision()))
    assert from_forged(failing)
    # what a sender wrote cannot pass for the sealer's override, nor can a comment
    said = dataclasses.replace(report(mail_from="policy.arc-override=x@evil.example"))
    assert from_forged(header_value("gw.test", resinfos(said, Decision())))
    assert from_forged("gw.test; dmarc=fail (policy.arc-override=x) header.from=a.example")
    assert not from_forged("gw.test; spf=pass; dmarc=pass header.from=a.example")
    assert not from_forged("gw.test; spf=pass")
