"""Sender authentication on arrival, as the gateway runs it at the end of DATA.

For mail from outside the trusted networks: any Authentication-Results field that claims
our authserv-id is removed (only we write those), then SPF, DKIM, DMARC and ARC are
checked, the administrator's policy decides, and the results become one
Authentication-Results field for the stored message.

The checks of a message up to ``CHECKED_INLINE_UP_TO`` bytes are first made on the event
loop from the DNS answers (and SPF results) already kept: a sender seen within the TTLs of
its records costs some 0.3 ms of CPU (a 4 KB message) and no hand-off to a thread. When an
answer is missing, that attempt stops at the first lookup and the checks run in a worker
thread, where they may wait on the name servers without holding up the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from casegate.config import Config
from casegate.filtering.auth_policy import AuthPolicy, decide
from casegate.filtering.auth_results import (
    header_field,
    header_value,
    resinfos,
    without_our_results,
)
from casegate.filtering.classifiers import SpamVerdict
from casegate.filtering.lookups import MessageLookups, NotCached
from casegate.filtering.sender_checks import SenderReport, check_sender
from casegate.filtering.vocabulary import SpamAction

# Checks mostly wait on DNS, so there are more threads than cores; a name server that hangs
# holds one thread per message for at most CASEGATE_AUTH_DNS_TIMEOUT.
CHECK_THREADS = 32
# Larger messages take longer to canonicalize and hash than the event loop should be held
# (5 to 10 ms a MB), so they are always checked in a worker thread.
CHECKED_INLINE_UP_TO = 64 * 1024


@dataclass(frozen=True, slots=True)
class Authentication:
    """The message to keep and what the checks decided about it."""

    content: bytes  # as received, less the Authentication-Results fields that claim to be ours
    field: bytes = b""  # our Authentication-Results field, to prepend ("" when not checked)
    results: str = ""  # its value, stored with the message
    refusal: str = ""  # the SMTP reply refusing the message
    spam_reason: str = ""
    report: SenderReport | None = None

    def verdict(self, verdict: SpamVerdict) -> SpamVerdict:
        """The classifiers' verdict; spam for the checks' reason when they found none."""
        if verdict.spam or not self.spam_reason:
            return verdict
        return dataclasses.replace(verdict, action=SpamAction.SPAM, reason=self.spam_reason)


class SenderAuthentication:
    def __init__(self, config: Config) -> None:
        self.enabled = config.sender_auth
        self.authserv_id = config.authserv_id
        self.budget = config.auth_dns_timeout
        self.policy = AuthPolicy.from_config(config)
        self._threads = ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="sender-auth")

    async def check(self, content: bytes, peer_ip: str | None, trusted: bool, mail_from: str,
                    helo: str, company_domains: frozenset[str], foreign: bool = False
                    ) -> Authentication:
        """``trusted``: from a trusted client, checked already; ``foreign``: written and
        received elsewhere (fetched, imported), so results naming us in it are not ours."""
        if trusted:
            return Authentication(without_our_results(content, self.authserv_id) if foreign
                                  else content)
        content = without_our_results(content, self.authserv_id)
        if not self.enabled or not peer_ip:
            return Authentication(content)
        if len(content) <= CHECKED_INLINE_UP_TO:
            with contextlib.suppress(NotCached):
                return self.authenticate(content, peer_ip, mail_from, helo, company_domains,
                                         cached_only=True)
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, self.authenticate, content, peer_ip, mail_from, helo,
            company_domains)

    def authenticate(self, content: bytes, peer_ip: str, mail_from: str, helo: str,
                     company_domains: frozenset[str], cached_only: bool = False
                     ) -> Authentication:
        """The checks and the decision: blocking on DNS (in a worker thread), or
        ``cached_only``, raising :class:`NotCached` at the first answer not kept."""
        report = check_sender(content, peer_ip, mail_from, helo,
                              MessageLookups(self.budget, cached_only=cached_only))
        decision = decide(report, self.policy, company_domains)
        results = resinfos(report, decision)
        return Authentication(content, header_field(self.authserv_id, results),
                              header_value(self.authserv_id, results), decision.refusal,
                              decision.spam_reason, report)
