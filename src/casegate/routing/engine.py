"""The routing decision for one envelope recipient, computed from an in-memory snapshot.

Nothing here touches the database: :mod:`casegate.routing.snapshot` builds a
:class:`RoutingTable` from it, and the gateway keeps one per process.

How rules combine (the reference is the admin console in the article):

* Rules are evaluated in their order (position 1 first). **All** matching rules apply.
* A rule applies only when its *apply to* option fits the recipient: recognized
  (an account, group or desk intake) or unrecognized.
* When several rules change the envelope recipient, the highest-priority one wins.
  "Also deliver to" recipients accumulate over all matching rules.
* A message classified as spam is re-routed only by rules with *bypass spam filter*;
  the other rules are skipped for it. Spam for an account lands in its Junk folder;
  spam for any other address is quarantined.
* Rewritten and added recipients are delivered as they are: rules are not applied to
  them again, so rules cannot chain into a loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from casegate.directory.addresses import (
    InvalidAddress,
    domain_of,
    normalize_address,
    normalize_domain,
    strip_extension,
)


class TargetKind(StrEnum):
    DESK = "desk"
    MAILBOX = "mailbox"
    REMOTE = "remote"


class Verdict(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    QUARANTINE = "quarantine"
    UNKNOWN_USER = "unknown-user"
    RELAY_DENIED = "relay-denied"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    position: int
    match_type: str
    match_value: str
    rewrite: str
    rewrite_value: str
    bypass_spam: bool
    also_deliver: tuple[str, ...]
    apply_to: str
    pattern: re.Pattern[str] | None = None
    action: str = "modify"
    reject_text: str = ""

    def applies_to(self, recognized: bool) -> bool:
        if self.apply_to == "recognized":
            return recognized
        if self.apply_to == "unrecognized":
            return not recognized
        return True

    def rewritten(self, address: str) -> str:
        local, _, domain = address.rpartition("@")
        if self.rewrite == "recipient":
            return self.rewrite_value
        if self.rewrite == "user":
            return f"{self.rewrite_value}@{domain}"
        if self.rewrite == "domain":
            return f"{local}@{self.rewrite_value}"
        return address


@dataclass(frozen=True, slots=True)
class Target:
    """A final recipient and how it is reached."""

    address: str
    kind: TargetKind
    intake_id: int | None = None
    relay: str = ""


@dataclass(frozen=True, slots=True)
class Routing:
    """What happens to mail for one envelope recipient."""

    recipient: str
    verdict: Verdict
    recognized: bool = False
    rules: tuple[int, ...] = ()
    targets: tuple[Target, ...] = ()
    junk: bool = False
    reason: str = ""


@dataclass(frozen=True)
class RoutingTable:
    """An immutable picture of the directory and the rules, for one routing version."""

    version: int
    domains: frozenset[str]
    accounts: frozenset[str]
    groups: dict[str, tuple[str, ...]]
    intakes: dict[str, int]
    exact_rules: dict[str, tuple[CompiledRule, ...]]
    pattern_rules: tuple[CompiledRule, ...]
    match_all_rules: tuple[CompiledRule, ...]
    mailbox_relays: dict[str, str] = field(default_factory=dict)
    delimiter: str = "+"
    _group_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def is_recognized(self, address: str) -> bool:
        return address in self.accounts or address in self.groups or address in self.intakes

    def local_owner(self, address: str) -> str | None:
        """The recognized address that receives mail for ``address`` (``user+tag`` aware)."""
        if self.is_recognized(address):
            return address
        base = strip_extension(address, self.delimiter)
        if base != address and self.is_recognized(base):
            return base
        return None

    def matching_rules(self, address: str, recognized: bool) -> list[CompiledRule]:
        found: list[CompiledRule] = list(self.exact_rules.get(address, ()))
        base = strip_extension(address, self.delimiter)
        if base != address:
            found.extend(self.exact_rules.get(base, ()))
        found.extend(r for r in self.pattern_rules if r.pattern and r.pattern.fullmatch(address))
        found.extend(self.match_all_rules)
        found = [r for r in found if r.applies_to(recognized)]
        found.sort(key=lambda r: (r.position, r.id))
        return found

    def targets_for(self, address: str) -> tuple[Target, ...]:
        """Where mail for a final ``address`` goes; ``()`` for an unknown local address."""
        owner = self.local_owner(address)
        if owner is None:
            if domain_of(address) in self.domains:
                return ()
            return (Target(address, TargetKind.REMOTE),)
        if owner in self.intakes:
            return (Target(owner, TargetKind.DESK, self.intakes[owner]),)
        if owner in self.accounts:
            relay = self.mailbox_relays.get(domain_of(owner), "")
            if relay:
                return (Target(owner, TargetKind.REMOTE, relay=relay),)
            return (Target(owner, TargetKind.MAILBOX),)
        targets: list[Target] = []
        for member in self.group_members(owner):
            targets.extend(self.targets_for(member))
        return tuple(targets)

    def is_ours(self, address: str) -> bool:
        """Whether ``address`` is the company's or the desk's (its domains, its intakes and
        the intakes' domains): mail we write must not go there as if to a customer."""
        domain = domain_of(address)
        return (domain in self.domains or address in self.intakes
                or any(domain == domain_of(intake) for intake in self.intakes))

    def reachable(self, addresses: Iterable[str]) -> dict[str, tuple[Target, ...]]:
        """The destinations of each address that has any, for mail casegate writes itself."""
        found = {address: self.destinations(address.lower()) for address in addresses}
        return {address: targets for address, targets in found.items() if targets}

    def destinations(self, address: str) -> tuple[Target, ...]:
        """Where mail casegate writes itself to ``address`` goes: a local address through the
        rules, as if it came in by SMTP; ``()`` when nothing would accept it."""
        routing = self.route(address)
        if routing.verdict is Verdict.RELAY_DENIED:
            return self.targets_for(routing.recipient)
        return routing.targets if routing.verdict is Verdict.ACCEPT else ()

    def group_members(self, group: str) -> tuple[str, ...]:
        """Members of ``group`` with nested groups expanded (each group once)."""
        cached = self._group_cache.get(group)
        if cached is not None:
            return cached
        seen_groups = {group}
        members: list[str] = []
        pending = list(self.groups.get(group, ()))
        while pending:
            member = pending.pop(0)
            if member in self.groups:
                if member not in seen_groups:
                    seen_groups.add(member)
                    pending.extend(self.groups[member])
            elif member not in members:
                members.append(member)
        result = tuple(members)
        self._group_cache[group] = result
        return result

    def route(self, recipient: str, spam: bool = False, releasing: bool = False) -> Routing:
        """Where mail for ``recipient`` goes; ``releasing`` (from quarantine) skips the rules
        that send to quarantine, whose hold a person has just lifted."""
        try:
            address = normalize_address(recipient)
        except InvalidAddress as exc:
            return Routing(recipient, Verdict.INVALID, reason=str(exc))
        owner = self.local_owner(address)
        if owner is None and domain_of(address) not in self.domains:
            return Routing(address, Verdict.RELAY_DENIED, reason="relay access denied")
        recognized = owner is not None
        owner_is_account = owner in self.accounts
        rules = self.matching_rules(address, recognized)
        # A reject wins over every other rule, wherever it stands; then a quarantine rule.
        rejecting = next((r for r in rules if r.action == "reject"), None)
        if rejecting is not None:
            return Routing(address, Verdict.REJECT, recognized, (rejecting.id,),
                           reason=rejecting.reject_text or DEFAULT_REJECT_TEXT)
        holding = next((r for r in rules if r.action == "quarantine" and not releasing), None)
        if holding is not None:
            return Routing(address, Verdict.QUARANTINE, recognized, (holding.id,),
                           reason=f"held by rule #{holding.id}")
        skipped_for_spam = False
        rules = [r for r in rules if r.action == "modify"]
        if spam:
            kept = [r for r in rules if r.bypass_spam]
            skipped_for_spam = len(kept) < len(rules)
            rules = kept

        primary = address
        rewritten = False
        extra: list[str] = []
        for rule in rules:
            if rule.rewrite and not rewritten:
                primary = rule.rewritten(address)
                rewritten = True
            for also in rule.also_deliver:
                if also not in extra:
                    extra.append(also)

        targets: list[Target] = []
        for final in (primary, *extra):
            for target in self.targets_for(final):
                if target not in targets:
                    targets.append(target)
        rule_ids = tuple(r.id for r in rules)

        if spam and not rules:
            if recognized and owner_is_account and targets:
                return Routing(address, Verdict.ACCEPT, recognized, (), tuple(targets), junk=True)
            if recognized or skipped_for_spam:
                return Routing(
                    address,
                    Verdict.QUARANTINE,
                    recognized,
                    reason="classified as spam; no rule with bypass spam filter applies",
                )
        if not targets:
            return Routing(address, Verdict.UNKNOWN_USER, recognized, rule_ids,
                           reason="no such user here")
        return Routing(address, Verdict.ACCEPT, recognized, rule_ids, tuple(targets))


DEFAULT_REJECT_TEXT = "Message rejected by the recipient's mail policy"


def compile_rule(
    *,
    id: int,
    position: int,
    match_type: str,
    match_value: str,
    rewrite: str,
    rewrite_value: str,
    bypass_spam: bool,
    also_deliver: list[str] | tuple[str, ...],
    apply_to: str,
    action: str = "modify",
    reject_text: str = "",
) -> CompiledRule:
    pattern = re.compile(match_value, re.IGNORECASE) if match_type == "pattern" else None
    value = rewrite_value
    if rewrite == "recipient":
        value = normalize_address(rewrite_value)
    elif rewrite == "domain":
        value = normalize_domain(rewrite_value)
    elif rewrite == "user":
        value = rewrite_value.lower()
    return CompiledRule(
        id=id,
        position=position,
        match_type=match_type,
        match_value=match_value,
        rewrite=rewrite,
        rewrite_value=value,
        bypass_spam=bypass_spam,
        also_deliver=tuple(normalize_address(a) for a in also_deliver),
        apply_to=apply_to,
        pattern=pattern,
        action=action,
        reject_text=reject_text,
    )
