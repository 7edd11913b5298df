"""MTA-STS: the domain's _mta-sts record and its policy over HTTPS, which must list this
host, so senders reach it over verified TLS only."""

from __future__ import annotations

import asyncio
import time

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus
from casegate.outbound_tls.mta_sts import Policy, PolicyError, fetch_policy, policy_id, policy_url
from casegate.outbound_tls.vocabulary import PolicyMode

NAME = "MTA-STS"
MAX_AGE = 604800  # a week, as RFC 8461's examples suggest


def check(domain: str, host: Host) -> Finding:
    wanted = Policy(domain, time.strftime("%Y%m%d01"), PolicyMode.ENFORCE, MAX_AGE,
                    (host.name,), 0)
    to_publish = (f'_mta-sts.{domain}. IN TXT "v=STSv1; id={wanted.id}"\n'
                  f"{policy_url(domain)}:\n{wanted.text}")
    try:
        id_ = asyncio.run(policy_id(domain))
        if id_ is None:
            return Finding(NAME, domain, CheckStatus.WARNING,
                           f"{domain} publishes no MTA-STS policy: a sender's TLS to this host"
                           " can be stripped by an attacker on the path", to_publish)
        policy = asyncio.run(fetch_policy(domain, id_))
    except PolicyError as exc:
        return Finding(NAME, domain, CheckStatus.FAILING, str(exc), to_publish)
    if not policy.allows(host.name):
        fixed = Policy(domain, wanted.id, policy.mode, policy.max_age,
                       (*policy.mx, host.name), 0)
        return Finding(NAME, domain, CheckStatus.FAILING,
                       f"the policy (id {id_}) lists {', '.join(policy.mx) or 'no MX host'},"
                       f" not {host.name}: senders that enforce it will not deliver here",
                       f'_mta-sts.{domain}. IN TXT "v=STSv1; id={wanted.id}"\n'
                       f"{policy_url(domain)}:\n{fixed.text}")
    if policy.mode != PolicyMode.ENFORCE:
        return Finding(NAME, domain, CheckStatus.WARNING,
                       f"the policy (id {id_}) is in mode {policy.mode}: senders report"
                       " failures but still deliver without verified TLS", to_publish)
    return Finding(NAME, domain, CheckStatus.OK,
                   f"policy id {id_}, mode enforce, max_age {policy.max_age}, lists {host.name}")
