"""Who sent a message: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617).

pyspf checks SPF, dkimpy every DKIM signature and the ARC chain, the ``dmarc`` package
evaluates the From domain's published policy against them; the organisational domain comes
from the public suffix list (``publicsuffixlist``). All DNS goes through
:class:`~casegate.filtering.lookups.MessageLookups`. An SPF result is kept, per client
address, sender domain and HELO name, until the first DNS answer it used goes stale. The
checks block on DNS: the gateway runs them in a worker thread unless every answer they need
is kept (``cached_only`` lookups).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import re
from dataclasses import dataclass
from email.utils import getaddresses
from functools import cache, lru_cache

import authres
import dkim
import dkim.canonicalization
import dkim.util
import dmarc
import dns.exception
import spf
from publicsuffixlist import PublicSuffixList

import casegate.filtering.dkim_speed  # noqa: F401  (dkimpy, faster)
from casegate.directory.addresses import InvalidAddress, normalize_domain
from casegate.filtering.lookups import MessageLookups, NotCached, spf_answers
from casegate.filtering.vocabulary import AuthResult, DmarcPolicy
from casegate.mail.headers import HeaderFields
from casegate.maillog import address_text
from casegate.nameservers import CACHED_ANSWERS, CachingResolver, Expiring

log = logging.getLogger("casegate.gateway")

# dkimpy logs each signature that does not verify as an error; here that is a result.
_DKIMPY_LOG = logging.getLogger("casegate.filtering.dkimpy")
_DKIMPY_LOG.propagate = False
_DKIMPY_LOG.addHandler(logging.NullHandler())

BODY_CHANGED = "body hash mismatch"  # dkimpy's words for a body changed after signing
_INSTANCE = re.compile(r"^\s*i\s*=\s*(\d+)\s*;")
DOMAINS_KEPT = 4096  # organisational domains and From: fields read, kept for the next message

# SPF results by resolver (the name servers asked), client address, sender domain (empty
# for the null sender) and HELO name.
_SPF_RESULTS: Expiring[tuple[CachingResolver, str, str, str], AuthResult] = Expiring(
    CACHED_ANSWERS)


@cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=DOMAINS_KEPT)
def organisational_domain(domain: str) -> str:
    """The registered domain under its public suffix (``mail.example.co.uk`` →
    ``example.co.uk``); a public suffix itself stays as it is."""
    return _public_suffixes().privatesuffix(domain.lower()) or domain.lower()


class _OrganisationalDomains:
    """The public suffix list as the ``dmarc`` package asks it: ``get_public_suffix`` there
    means the organisational domain (as in publicsuffix2, the list it was written for)."""

    @staticmethod
    def get_public_suffix(domain: str) -> str:
        return organisational_domain(domain)


def aligned(author_domain: str, domain: str) -> bool:
    """Relaxed alignment (RFC 7489 3.1): both under the same organisational domain."""
    return bool(author_domain and domain) and (
        organisational_domain(author_domain) == organisational_domain(domain))


@dataclass(frozen=True, slots=True)
class Signature:
    """One DKIM signature's result."""

    domain: str
    selector: str
    result: AuthResult
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Dmarc:
    """The From domain's DMARC result and what its policy asks for this message."""

    result: AuthResult
    domain: str = ""
    published: DmarcPolicy | None = None  # p=, or sp= for a subdomain
    disposition: DmarcPolicy = DmarcPolicy.NONE  # after pct= sampling; none on a pass
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Arc:
    """The ARC chain's validation, and what its newest sealer recorded about DMARC."""

    result: AuthResult
    sealer: str = ""
    instance: int = 0
    recorded_dmarc: str = ""  # the DMARC result in the newest ARC-Authentication-Results
    recorded_from: str = ""  # and its header.from
    comment: str = ""


@dataclass(frozen=True, slots=True)
class SenderReport:
    """Every check's result for one message."""

    spf: AuthResult
    spf_domain: str  # the MAIL FROM domain, or the HELO name for the null sender
    mail_from: str
    helo: str
    peer_ip: str
    dkim: tuple[Signature, ...]
    from_domains: tuple[str, ...]
    dmarc: Dmarc
    arc: Arc

    def authenticates(self, author_domain: str) -> bool:
        """Whether an SPF or DKIM pass is aligned with ``author_domain`` (or DMARC passed)."""
        if self.dmarc.result == AuthResult.PASS and self.dmarc.domain == author_domain:
            return True
        if self.spf == AuthResult.PASS and aligned(author_domain, self.spf_domain):
            return True
        return any(s.result == AuthResult.PASS and aligned(author_domain, s.domain)
                   for s in self.dkim)


def check_sender(raw: bytes, peer_ip: str, mail_from: str, helo: str,
                 lookups: MessageLookups) -> SenderReport:
    """SPF, every DKIM signature, DMARC and the ARC chain of ``raw`` as it arrived."""
    headers = HeaderFields(raw)
    spf_domain = _a_labels((mail_from.rpartition("@")[2] if mail_from else helo).rstrip("."))
    spf_result = check_spf(peer_ip, mail_from, helo, lookups)
    signatures = check_dkim(raw, lookups)
    authors = from_domains(headers)
    return SenderReport(
        spf=spf_result, spf_domain=spf_domain, mail_from=mail_from, helo=helo,
        peer_ip=peer_ip, dkim=signatures, from_domains=authors,
        dmarc=check_dmarc(authors, spf_result, spf_domain, signatures, lookups),
        arc=check_arc(raw, headers, lookups),
    )


def from_domains(headers: HeaderFields) -> tuple[str, ...]:
    """The domains of the From: addresses, in order, each once; of a field too odd for the
    address parser (``a"b <ceo@ours.example>``), every domain it names, since a reader may
    take any of them for the author's."""
    return _domains_of(tuple(headers.get_all("From")))


_ANY_DOMAIN = re.compile(r"@([A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])")


@lru_cache(maxsize=DOMAINS_KEPT)
def _domains_of(fields: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for field in fields:
        parsed = [address.rpartition("@")[2].strip().rstrip(".")
                  for _, address in getaddresses([field]) if "@" in address]
        found += parsed or _ANY_DOMAIN.findall(field)
    return tuple(dict.fromkeys(_a_labels(domain) for domain in found if domain))


def _a_labels(domain: str) -> str:
    """``domain`` as the DNS, DKIM's d= and the company's domains write it (RFC 8616): the
    From domain, the SPF domain and an ARC set's header.from compare alike."""
    try:
        return normalize_domain(domain)
    except InvalidAddress:
        return domain.lower()


def check_spf(peer_ip: str, mail_from: str, helo: str, lookups: MessageLookups) -> AuthResult:
    """SPF for the MAIL FROM domain, or for the HELO name when the sender is null."""
    if not peer_ip or not (mail_from or helo):
        return AuthResult.NONE
    key = (lookups.resolver, peer_ip, mail_from.rpartition("@")[2].lower(), helo.lower())
    kept = _SPF_RESULTS.get(key)
    if kept is not None:
        return kept
    if lookups.cached_only:
        raise NotCached(f"SPF for {peer_ip} {mail_from} {helo}")
    left = lookups.left()
    if left <= 0:
        return AuthResult.TEMPERROR
    try:
        with spf_answers() as expiries:
            checked, _code, _explanation = spf.query(i=peer_ip, s=mail_from, h=helo,
                                                     querytime=left).check()
    except Exception as exc:  # pyspf on input it cannot take (an odd HELO name)
        log.info("spf=permerror client=%s from=%s: %s", peer_ip, address_text(mail_from), exc)
        return AuthResult.PERMERROR
    try:
        result = AuthResult(checked)
    except ValueError:
        return AuthResult.PERMERROR
    if result != AuthResult.TEMPERROR:
        _SPF_RESULTS.put(key, result, min(expiries, default=0.0))
    return result


def check_dkim(raw: bytes, lookups: MessageLookups) -> tuple[Signature, ...]:
    """Each DKIM-Signature's result, topmost first."""
    try:
        verifier = dkim.DKIM(raw, logger=_DKIMPY_LOG)
    except Exception:
        return ()
    fields = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"]
    results: list[Signature] = []
    for index, value in enumerate(fields):
        try:
            tags = dkim.util.parse_tag_value(value)
            domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
            selector = tags.get(b"s", b"").decode("ascii", "replace")
        except Exception:
            results.append(Signature("", "", AuthResult.PERMERROR, "unreadable signature"))
            continue
        try:
            verified = verifier.verify(idx=index, dnsfunc=lookups.dkim_key)
        except NotCached:
            raise
        except dns.exception.Timeout:
            results.append(Signature(domain, selector, AuthResult.TEMPERROR,
                                     "key lookup timed out"))
            continue
        except Exception as exc:  # dkimpy's DKIMException and what a broken message raises
            problem = str(exc).partition(" (")[0][:80]
            result = AuthResult.FAIL if problem == BODY_CHANGED else AuthResult.PERMERROR
            results.append(Signature(domain, selector, result, problem))
            continue
        if verified and _covers_part(tags, verifier.body):
            # Anyone may add to what l= leaves unsigned (RFC 6376 8.2): not a pass here.
            results.append(Signature(domain, selector, AuthResult.POLICY,
                                     "l= leaves part of the body unsigned"))
        elif verified:
            results.append(Signature(domain, selector, AuthResult.PASS))
        elif f"{selector}._domainkey.{domain}".lower() in lookups.absent:
            results.append(Signature(domain, selector, AuthResult.PERMERROR, "no key"))
        else:
            results.append(Signature(domain, selector, AuthResult.FAIL))
    return tuple(results)


def _covers_part(tags: dict[bytes, bytes], body: bytes) -> bool:
    """Whether a signature's l= stops short of the body (dkimpy's, CRLF lines), both
    canonicalized by the signature's c= as l= counts."""
    length = tags.get(b"l")
    if length is None:
        return False
    try:
        policy = dkim.canonicalization.CanonicalizationPolicy.from_c_value(
            tags.get(b"c", b"simple/simple"))
        return int(length) < len(policy.canonicalize_body(body))
    except Exception:  # an l= or c= that cannot be read: the signature covers no known part
        return True


def _dmarc_record(domain: str, lookups: MessageLookups) -> tuple[str | None, str]:
    """The DMARC record for ``domain``: its own, else its organisational domain's (named
    second). RFC 7489 6.6.3: several records count as none."""
    for name in dict.fromkeys((domain, organisational_domain(domain))):
        records = [r for r in lookups.txt(f"_dmarc.{name}") if r.startswith(b"v=DMARC1")]
        if len(records) == 1:
            return records[0].decode("utf-8", "replace"), "" if name == domain else name
        if records:  # several end the discovery: no policy, not the organisational one's
            return None, ""
    return None, ""


_ONE_STEP_DOWN = {DmarcPolicy.REJECT: DmarcPolicy.QUARANTINE,
                  DmarcPolicy.QUARANTINE: DmarcPolicy.NONE, DmarcPolicy.NONE: DmarcPolicy.NONE}


def check_dmarc(authors: tuple[str, ...], spf_result: AuthResult, spf_domain: str,
                signatures: tuple[Signature, ...], lookups: MessageLookups) -> Dmarc:
    if not authors:
        return Dmarc(AuthResult.NONE, comment="no From address")
    if len(authors) > 1:
        return Dmarc(AuthResult.PERMERROR, authors[0], comment="From addresses at several domains")
    domain = authors[0]
    try:
        record, organisational = _dmarc_record(domain, lookups)
    except dns.exception.Timeout:
        return Dmarc(AuthResult.TEMPERROR, domain, comment="DMARC record lookup timed out")
    if record is None:
        return Dmarc(AuthResult.NONE, domain)
    passing = tuple(s.domain for s in signatures if s.result == AuthResult.PASS and s.domain)
    result, percent = _evaluate(record, domain, organisational, spf_result, spf_domain, passing)
    if result.result == AuthResult.FAIL and _unfinished(domain, spf_result, spf_domain,
                                                        signatures):
        # A check that might have passed could not be finished: a DNS failure never
        # turns mail into a rejection.
        return Dmarc(AuthResult.TEMPERROR, domain,
                     comment="an aligned SPF or DKIM check met a DNS failure")
    if result.result == AuthResult.FAIL and random.randrange(100) >= percent:
        # sampled out (pct=, or t=y): one step milder
        return dataclasses.replace(result, disposition=_ONE_STEP_DOWN[result.disposition])
    return result


def _unfinished(domain: str, spf_result: AuthResult, spf_domain: str,
                signatures: tuple[Signature, ...]) -> bool:
    """Whether an SPF or DKIM result for a domain aligned with ``domain`` is temperror."""
    return ((spf_result == AuthResult.TEMPERROR and aligned(domain, spf_domain))
            or any(s.result == AuthResult.TEMPERROR and aligned(domain, s.domain)
                   for s in signatures))


@lru_cache(maxsize=DOMAINS_KEPT)
def _evaluate(record: str, domain: str, organisational: str, spf_result: AuthResult,
              spf_domain: str, dkim_passes: tuple[str, ...]) -> tuple[Dmarc, int]:
    """What ``record`` (the policy of ``domain``, or of its ``organisational`` domain) says of
    the SPF result and of the domains of DKIM passes, kept for the sender's next message;
    and its pct= (a failure's disposition is as published, before sampling)."""
    try:
        evaluation = dmarc.DMARCPolicy(record=record, domain=domain,
                                       org_domain=organisational or None,
                                       publicsuffix=_OrganisationalDomains(), strict=False)
    except dmarc.RecordSyntaxError as exc:
        return Dmarc(AuthResult.PERMERROR, domain,
                     comment=f"bad DMARC record: {exc}"[:100]), 100
    results: list[dmarc.AuthResult] = []
    if spf_domain:
        results.append(dmarc.SPF(spf_domain, dmarc.SPFResult(spf_result.value)))
    results += [dmarc.DKIM(signer, dmarc.DKIMResult.PASS) for signer in dkim_passes]
    with contextlib.suppress(dmarc.PolicyError):  # a failure: its disposition is read below
        evaluation.verify(auth_results=results)
    outcome = evaluation.result
    policy = evaluation.policy
    published = DmarcPolicy(
        policy.sp.value if organisational and policy.sp is not dmarc.DMARCDisposition.UNSPECIFIED
        else policy.p.value)
    if outcome is None or outcome.result is dmarc.DMARCResult.PASS:
        return Dmarc(AuthResult.PASS, domain, published), 100
    return Dmarc(AuthResult.FAIL, domain, published,
                 DmarcPolicy(outcome.disposition.value)), policy.pct


def check_arc(raw: bytes, headers: HeaderFields, lookups: MessageLookups) -> Arc:
    if not headers.get_all("ARC-Seal"):
        return Arc(AuthResult.NONE)
    try:
        validation, sets, reason = dkim.ARC(raw, logger=_DKIMPY_LOG).verify(
            dnsfunc=lookups.dkim_key)
    except NotCached:
        raise
    except dns.exception.Timeout:  # RFC 8617 knows no temperror: a chain not validated fails
        return Arc(AuthResult.FAIL, comment="key lookup timed out")
    except Exception as exc:
        return Arc(AuthResult.FAIL, comment=str(exc)[:100])
    if validation == dkim.CV_None:
        return Arc(AuthResult.NONE)
    if validation != dkim.CV_Pass or not sets:
        return Arc(AuthResult.FAIL, comment=str(reason)[:100])
    newest = sets[0]
    instance = int(newest["instance"])
    recorded_dmarc, recorded_from = _recorded_dmarc(newest["aar-value"])
    return Arc(AuthResult.PASS, newest["as-domain"].decode("ascii", "replace").lower(),
               instance, recorded_dmarc, recorded_from)


def _recorded_dmarc(sealed: bytes) -> tuple[str, str]:
    """The DMARC result (and its header.from) in ``sealed``, the value of the
    ARC-Authentication-Results field that dkimpy found sealed: read again from the header
    section, a field hidden behind a bare CR (which dkimpy does not end a line at) could
    stand in for it."""
    value = re.sub(r"\r?\n[ \t]", " ", sealed.decode("utf-8", "replace")).strip()
    found = _INSTANCE.match(value)
    try:
        recorded = authres.AuthenticationResultsHeader.parse_value(
            value[found.end():] if found else value)
    except Exception:
        return "", ""
    for result in recorded.results:
        if getattr(result, "method", "") == "dmarc":
            author = next((p.value for p in result.properties
                           if p.type == "header" and p.name == "from"), "")
            return result.result, _a_labels(str(author)) if author else ""
    return "", ""
