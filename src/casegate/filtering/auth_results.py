"""The Authentication-Results header (RFC 8601) the gateway adds to what it receives, and
the removal of any that claims to be ours but came from outside (RFC 8601 section 5)."""

from __future__ import annotations

import re
from functools import lru_cache

from authres import (
    AuthenticationResultProperty,
    DKIMAuthenticationResult,
    SPFAuthenticationResult,
)
from authres.arc import ARCAuthenticationResult
from authres.dmarc import DMARCAuthenticationResult

from casegate.filtering.auth_policy import Decision
from casegate.filtering.sender_checks import SenderReport, Signature
from casegate.filtering.vocabulary import AuthResult
from casegate.mail.headers import remove_fields

FIELD = "Authentication-Results"
# Each result's text by what it says: a sender's next message has the same, and authres takes
# some 15 us to write a message's results.
RESULTS_KEPT = 4096
# The authserv-id is a token or a quoted string (RFC 8601 section 2.2, "value").
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s;()"]+')
_QUOTED_PAIR = re.compile(r"\\(.)")
METHODS = ("spf", "dkim", "dmarc", "arc")  # the checks we write, in the order we write them
# A result in a stored value (header_value's form): each follows "; ", so none is read from
# inside a comment such as dmarc's "(…; trusted ARC sealer x recorded dmarc=pass)".
_RESULT = re.compile(r";\s*(spf|dkim|dmarc|arc)=([a-z]+)", re.IGNORECASE)


def _outside_comments(value: str, *, blank_quoted: bool = False) -> str:
    """``value`` with its comments (RFC 5322: they nest, and hold quoted pairs) blanked, and
    with ``blank_quoted`` the insides of its quoted strings too; a parenthesis inside a
    quoted string (``smtp.mailfrom="a(b"@x``) opens none."""
    kept: list[str] = []
    depth, quoted, escaped = 0, False, False
    for c in value:
        in_comment = depth > 0 or (blank_quoted and quoted and (escaped or c != '"'))
        if escaped:
            escaped = False
        elif c == "\\" and (depth or quoted):
            escaped = True
        elif quoted:
            quoted = c != '"'
        elif c == "(":
            depth += 1
            in_comment = True
        elif depth and c == ")":
            depth -= 1
        elif not depth and c == '"':
            quoted = True
        kept.append(" " if in_comment else c)
    return "".join(kept)


def authserv_id_of(value: str) -> str:
    """The authserv-id: the value's first token after any comments ("" when there is
    none, as after a comment left open)."""
    found = _TOKEN.search(_outside_comments(value))
    if found is None:
        return ""
    token = found[0]
    if token.startswith('"'):
        token = _QUOTED_PAIR.sub(r"\1", token[1:-1])
    return token.lower()


def without_our_results(raw: bytes, authserv_id: str) -> bytes:
    """``raw`` without the Authentication-Results fields that carry ``authserv_id``, and
    without those that cannot be read but name it anywhere."""
    ours = authserv_id.lower()

    def claims_ours(value: str) -> bool:
        found = authserv_id_of(value)
        return found == ours or (not found and ours in value.lower())

    return remove_fields(raw, FIELD, claims_ours)


def resinfos(report: SenderReport, decision: Decision) -> list[str]:
    """One result per check: SPF, each DKIM signature, DMARC, ARC."""
    results = [_spf_result(report.spf, report.mail_from, report.helo)]
    results += [_dkim_result(s) for s in report.dkim] or [f"dkim={AuthResult.NONE}"]
    dmarc = report.dmarc
    comment = dmarc.comment
    if dmarc.published is not None:
        disposition = "none" if decision.arc_override else dmarc.disposition
        comment = f"p={dmarc.published} dis={disposition}"
    if decision.arc_override:
        comment += f"; trusted ARC sealer {decision.arc_override} recorded dmarc=pass"
    results.append(_dmarc_result(dmarc.result, comment, dmarc.domain, decision.arc_override))
    arc = report.arc
    arc_comment = f"i={arc.instance} sealed by {arc.sealer}" if arc.sealer else arc.comment
    results.append(_arc_result(arc.result, arc_comment, report.peer_ip))
    return results


@lru_cache(maxsize=RESULTS_KEPT)
def _spf_result(result: AuthResult, mail_from: str, helo: str) -> str:
    # What the client said goes in quoted, but a database's substring match (result_text)
    # does not know quotes: no "; method=result" can be made of it.
    mail_from, helo = mail_from.replace(";", "?"), helo.replace(";", "?")
    return str(SPFAuthenticationResult(result=result, smtp_mailfrom=mail_from) if mail_from
               else SPFAuthenticationResult(result=result, smtp_helo=helo or None))


@lru_cache(maxsize=RESULTS_KEPT)
def _dkim_result(signature: Signature) -> str:
    return str(DKIMAuthenticationResult(
        result=signature.result, result_comment=signature.comment or None,
        header_d=signature.domain or None, header_s=signature.selector or None))


@lru_cache(maxsize=RESULTS_KEPT)
def _dmarc_result(result: AuthResult, comment: str, author_domain: str, arc_override: str
                  ) -> str:
    return str(DMARCAuthenticationResult(
        result=result, result_comment=comment or None, header_from=author_domain or None,
        properties=[AuthenticationResultProperty("policy", "arc-override", arc_override)]
        if arc_override else None))


@lru_cache(maxsize=RESULTS_KEPT)
def _arc_result(result: AuthResult, comment: str, peer_ip: str) -> str:
    return str(ARCAuthenticationResult(result=result, result_comment=comment or None,
                                       smtp_remote_ip=peer_ip or None))


def header_value(authserv_id: str, results: list[str]) -> str:
    """The value as stored with the message, on one line."""
    return authserv_id + "".join(f"; {result}" for result in results)


def header_field(authserv_id: str, results: list[str]) -> bytes:
    """The field as prepended to the message, one result per folded line."""
    folded = authserv_id + "".join(f";\r\n\t{result}" for result in results)
    return f"{FIELD}: {folded}\r\n".encode("utf-8", errors="replace")


def verdicts(value: str) -> dict[str, str]:
    """Each check's result in a stored value, in :data:`METHODS` order: DKIM passes when one
    of its signatures does; a check the value does not name is left out."""
    found: dict[str, str] = {}
    # Not inside a quoted value (``smtp.helo="x;dmarc=pass"``) or a comment.
    for method, result in _RESULT.findall(_outside_comments(value, blank_quoted=True)):
        method, result = method.lower(), result.lower()
        if method not in found or (method == "dkim" and result == AuthResult.PASS):
            found[method] = result
    return {method: found[method] for method in METHODS if method in found}


_DMARC_FAILED = re.compile(r";\s*dmarc=fail\b([^;]*)", re.IGNORECASE)
_ARC_OVERRIDE = re.compile(r"\bpolicy\.arc-override=", re.IGNORECASE)


def from_forged(value: str) -> bool:
    """Whether a stored value says the From is forged: DMARC failed, and no trusted ARC
    sealer vouched for it (its ``policy.arc-override``, read in the dmarc result alone,
    outside comments and quoted strings: not in a sender's ``smtp.mailfrom``)."""
    failed = _DMARC_FAILED.search(_outside_comments(value, blank_quoted=True))
    return failed is not None and not _ARC_OVERRIDE.search(failed[1])


def result_text(method: str, result: str) -> str:
    """What a stored value contains where ``method`` came to ``result``, for a database's
    substring match (see :func:`verdicts`)."""
    return f"; {method}={result}"
