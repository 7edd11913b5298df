"""The routing decision for one envelope recipient, computed from an in-memory snapshot.

Nothing here touches the database: :mod:`casegate.routing.snapshot` builds a
:class:`RoutingTable` from it, and the gateway keeps one per process.

How rules combine (the reference is the admin console in the article):

* A rule matches a recipient by its address, a pattern, membership of a group (direct or
  through nested groups) or always ("all recipients"), and only for the account types it
  affects: users (accounts and desk intakes), groups, unrecognized addresses. A suspended
  account counts as unrecognized. A rule set at an organisational unit matches only the
  accounts and groups of that unit and its sub-units; address lists can exclude senders
  or recipients from a rule, or limit the rule to them.
* **All** matching rules apply, in order: rules of a deeper unit first (a sub-unit's rule
  overrides the top level's for that unit's accounts), then by position (1 first).
* A reject rule wins over every other rule, wherever it stands; then a quarantine rule.
* Where several rules set the same thing (the envelope recipient, the route, the subject
  prefix, the original-recipient header's name) the first in that order wins; added
  recipients and headers accumulate; the other options (bypass spam, spam headers,
  remove attachments, require TLS) hold when any matching rule sets them.
* A message classified as spam is re-routed only by rules with *bypass spam filter*;
  the other rules are skipped for it. Spam for an account lands in its Junk folder;
  spam for any other address is quarantined.
* Rewritten and added recipients are delivered as they are: rules are not applied to
  them again, so rules cannot chain into a loop.
* ``postmaster`` (RFC 5321 4.5.1: with no domain, any case) is always accepted, and so
  are ``postmaster@`` and ``abuse@`` each company domain: when no account, group, intake
  or rule takes them, they go to the table's role address for them (as if sent there by
  SMTP), or are held in quarantine when it has none or it takes no mail.
* An agent's reply address (:mod:`casegate.desk.authorship`) reaches the desk alone: no
  rule applies to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from casegate.directory.addresses import (
    InvalidAddress,
    domain_of,
    normalize_address,
    normalize_domain,
    strip_extension,
    unicode_form,
)
from casegate.routing.patterns import PatternIndex
from casegate.routing.vocabulary import AccountType, ListMode, MatchType, Rewrite, RuleAction
from casegate.spool.copy_edits import NO_COPY_EDITS, CopyEdits
from casegate.spool.vocabulary import DeliveryKind

POSTMASTER, ABUSE = "postmaster", "abuse"
ROLES = (POSTMASTER, ABUSE)
ACCOUNT_TYPE_WORDS = {"all": frozenset(AccountType),
                      "recognized": frozenset({AccountType.USERS, AccountType.GROUPS})}


def account_types(apply_to: str) -> frozenset[str]:
    """``users,groups`` (or the words all / recognized / unrecognized) as a set."""
    if apply_to in ACCOUNT_TYPE_WORDS:
        return ACCOUNT_TYPE_WORDS[apply_to]
    return frozenset(word.strip() for word in apply_to.split(",") if word.strip())


# Where a target's copy goes: the queue's delivery kinds, one vocabulary for both.
TargetKind = DeliveryKind


# Sender-chosen routing in a local part: the percent hack and bang paths.
ROUTING_SIGNS = re.compile(r"[%!]")


def _pattern_forms(address: str, base: str) -> tuple[str, ...]:
    forms = (address, base) if base != address else (address,)
    return tuple(dict.fromkeys([*forms, *(unicode_form(form) for form in forms)]))


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
    rewrite: str = ""
    rewrite_value: str = ""
    bypass_spam: bool = False
    also_deliver: tuple[str, ...] = ()
    affects: frozenset[str] = ACCOUNT_TYPE_WORDS["all"]
    action: str = RuleAction.MODIFY
    reject_text: str = ""
    unit: int | None = None
    sender_list: int | None = None
    sender_list_mode: str = ""
    recipient_list: int | None = None
    recipient_list_mode: str = ""
    original_recipient_header: str = ""
    spam_headers: bool = False
    custom_headers: tuple[tuple[str, str], ...] = ()
    subject_prefix: str = ""
    route: str = ""
    route_requires_tls: bool = False
    remove_attachments: bool = False
    require_tls: bool = False
    rate_limit: int | None = None

    def rewritten(self, address: str) -> str:
        local, _, domain = address.rpartition("@")
        if self.rewrite == Rewrite.RECIPIENT:
            return self.rewrite_value
        if self.rewrite == Rewrite.USER:
            return f"{self.rewrite_value}@{domain}"
        if self.rewrite == Rewrite.DOMAIN:
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
class Edits:
    """What the rules change in the message for one recipient (applied to every copy)."""

    headers: tuple[tuple[str, str], ...] = ()
    original_recipient_header: str = ""
    spam_headers: bool = False
    subject_prefix: str = ""
    remove_attachments: bool = False
    require_tls: bool = False

    def written(self, recipient: str, spam: bool, spam_reason: str = "", phishing: str = "",
                spam_details: tuple[tuple[str, str], ...] = ()) -> CopyEdits:
        """The edits of one message's copies for ``recipient``: the headers written out
        (with the verdicts, the classifier's score and symbols in ``spam_details``, and the
        original recipient), the prefix and the switches."""
        if self is NO_EDITS:  # most mail: nothing to build
            return NO_COPY_EDITS
        headers = list(self.headers)
        if self.original_recipient_header:
            headers.append((self.original_recipient_header, recipient))
        if self.spam_headers:
            headers.append(("X-Casegate-Spam", "yes" if spam else "no"))
            if spam and spam_reason:
                headers.append(("X-Casegate-Spam-Reason", spam_reason))
            headers.extend(spam_details)
            headers.append(("X-Casegate-Phishing", "yes" if phishing else "no"))
            if phishing:
                headers.append(("X-Casegate-Phishing-Reason", phishing))
        return CopyEdits(tuple(headers), self.subject_prefix, self.remove_attachments,
                         self.require_tls)


NO_EDITS = Edits()


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
    edits: Edits = NO_EDITS
    rate_limit: int | None = None


@dataclass(frozen=True)
class AddressListEntries:
    addresses: frozenset[str]
    domains: frozenset[str]

    def holds(self, address: str) -> bool:
        """Whether the list names ``address`` or its domain (or a parent domain)."""
        return self.entry_for(address) is not None

    def entry_for(self, address: str) -> str | None:
        """The entry that names ``address``: the address, its domain or a parent domain."""
        if address in self.addresses:
            return address
        domain = domain_of(address)
        while domain:
            if domain in self.domains:
                return domain
            domain = domain.partition(".")[2]
        return None


@dataclass(frozen=True)
class RoutingTable:
    """An immutable picture of the directory and the rules, for one routing version.

    Build it with :func:`build_table`, which indexes the rules: exact addresses and groups
    in hash maps, patterns compiled together (:mod:`casegate.routing.patterns`).
    """

    version: int
    domains: frozenset[str]
    accounts: frozenset[str]
    groups: dict[str, tuple[str, ...]]
    intakes: dict[str, int]
    exact_rules: dict[str, tuple[CompiledRule, ...]]
    pattern_rules: PatternIndex[CompiledRule]
    group_rules: dict[str, tuple[CompiledRule, ...]]
    match_all_rules: tuple[CompiledRule, ...]
    mailbox_relays: dict[str, str] = field(default_factory=dict)
    delimiter: str = "+"
    unit_of: dict[str, int] = field(default_factory=dict)
    unit_lineage: dict[int, frozenset[int]] = field(default_factory=dict)
    unit_depth: dict[int, int] = field(default_factory=dict)
    address_lists: dict[int, AddressListEntries] = field(default_factory=dict)
    role_addresses: dict[str, str] = field(default_factory=dict)
    agent_addresses: frozenset[str] = frozenset()
    agent_reply_addresses: frozenset[str] = frozenset()
    _group_cache: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    _containing_cache: dict[str, frozenset[str]] = field(default_factory=dict, compare=False)

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

    def account_type(self, owner: str | None) -> str:
        if owner is None:
            return AccountType.UNRECOGNIZED
        return AccountType.GROUPS if owner in self.groups else AccountType.USERS

    def groups_containing(self, address: str) -> frozenset[str]:
        """Every group ``address`` belongs to, directly or through nested groups."""
        cached = self._containing_cache.get(address)
        if cached is not None:
            return cached
        if not self._containing_cache:
            self._index_membership()
        return self._containing_cache.get(address, frozenset())

    def _index_membership(self) -> None:
        direct: dict[str, set[str]] = {}
        for group, members in self.groups.items():
            for member in members:
                direct.setdefault(member, set()).add(group)
        index: dict[str, frozenset[str]] = {"": frozenset()}  # "" marks the index as built
        for member in direct:
            found: set[str] = set()
            pending = list(direct[member])
            while pending:
                group = pending.pop()
                if group not in found:
                    found.add(group)
                    pending.extend(direct.get(group, ()))
            index[member] = frozenset(found)
        self._containing_cache.update(index)  # one step: no reader sees half an index

    def matching_rules(self, address: str, sender: str = "") -> list[CompiledRule]:
        """The rules that apply to mail from ``sender`` to ``address``, in the order they
        take effect."""
        return self._matching(address, self.local_owner(address), sender)

    def _matching(self, address: str, owner: str | None, sender: str) -> list[CompiledRule]:
        kind = self.account_type(owner)
        found: list[CompiledRule] = list(self.exact_rules.get(address, ()))
        base = strip_extension(address, self.delimiter)
        if base != address:
            found.extend(self.exact_rules.get(base, ()))
        # A pattern sees the address as written and without its +tag, in A-labels and in
        # U-labels (as people write a pattern: help-.*@bücher\.example), each rule once.
        patterned = {rule.id: rule for form in _pattern_forms(address, base)
                     for rule in self.pattern_rules.matching(form)}
        found.extend(patterned.values())
        if owner is not None and self.group_rules:
            for group in self.groups_containing(owner):
                found.extend(self.group_rules.get(group, ()))
        found.extend(self.match_all_rules)
        unit = self.unit_of.get(owner) if owner is not None else None
        lineage = self.unit_lineage.get(unit, frozenset()) if unit is not None else frozenset()
        senders = _list_forms(sender)
        recipients = (address, base) if base != address else (address,)
        found = [r for r in found if kind in r.affects
                 and (r.unit is None or r.unit in lineage)
                 and self._listed_ok(r.sender_list, r.sender_list_mode, senders)
                 and self._listed_ok(r.recipient_list, r.recipient_list_mode, recipients)]
        found.sort(key=lambda r: (-self.unit_depth.get(r.unit, 0) if r.unit else 0,
                                  r.position, r.id))
        return found

    def _listed_ok(self, list_id: int | None, mode: str, forms: tuple[str, ...]) -> bool:
        """Whether a rule with this address list applies to an address (given in its
        forms: as written, and without its ``+tag``)."""
        if list_id is None or not mode:
            return True
        entries = self.address_lists.get(list_id)
        listed = entries is not None and any(entries.holds(form) for form in forms)
        return listed if mode == ListMode.ONLY else not listed

    def targets_for(self, address: str, _within: frozenset[str] = frozenset()
                    ) -> tuple[Target, ...]:
        """Where mail for a final ``address`` goes; ``()`` for an unknown local address.
        ``_within``: the groups being expanded, which a member resolving to one of them (a
        ``+tag`` form of the group's own address, say) does not enter again."""
        if address in self.agent_reply_addresses:
            return (Target(address, TargetKind.DESK),)
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
        if owner in _within:
            return ()
        targets: list[Target] = []
        for member in self.group_members(owner):
            targets.extend(self.targets_for(member, _within | {owner}))
        return tuple(targets)

    def is_desk_address(self, address: str) -> bool:
        """Whether ``address`` is one the desk files (an intake, an agents' reply address)."""
        return address in self.intakes or address in self.agent_reply_addresses

    def is_ours(self, address: str) -> bool:
        """Whether ``address`` is the company's or the desk's (its domains, its intakes and
        the intakes' domains): mail we write must not go there as if to a customer."""
        domain = domain_of(address)
        return (domain in self.domains or address in self.intakes
                or address in self.agent_reply_addresses
                or any(domain == domain_of(intake) for intake in self.intakes))

    def reachable(self, addresses: Iterable[str]) -> dict[str, tuple[Target, ...]]:
        """The destinations of each address that has any, for mail casegate writes itself."""
        found = {address: self.destinations(address.lower()) for address in addresses}
        return {address: targets for address, targets in found.items() if targets}

    def destinations(self, address: str) -> tuple[Target, ...]:
        """Where mail casegate writes itself to ``address`` goes: a local address through the
        rules, as if it came in by SMTP; ``()`` when nothing would accept it."""
        return self._reached(self.route(address))

    def _reached(self, routing: Routing) -> tuple[Target, ...]:
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

    def route(self, recipient: str, spam: bool = False, releasing: bool = False,
              sender: str = "") -> Routing:
        """Where mail from ``sender`` for ``recipient`` goes; ``releasing`` (from quarantine)
        means quarantine rules are lifted. Mail for a role address (postmaster, abuse)
        that nothing else takes goes to the address set for the role."""
        if recipient.strip().lower() == POSTMASTER:
            return self._role_routing(POSTMASTER, POSTMASTER, spam)
        routing = self._route_address(recipient, spam, releasing, sender)
        # RFC 5321 4.5.1: postmaster (and abuse) always take mail, whatever rule would refuse
        # or hold it.
        if routing.verdict in (Verdict.UNKNOWN_USER, Verdict.REJECT, Verdict.QUARANTINE):
            local, _, domain = routing.recipient.rpartition("@")
            if local in ROLES and domain in self.domains:
                own = self.targets_for(routing.recipient) if routing.recognized else ()
                if own and not spam:  # its account or group, past the rule
                    return Routing(routing.recipient, Verdict.ACCEPT, True, targets=own,
                                   reason=f"no rule refuses {local} mail")
                return self._role_routing(routing.recipient, local, spam)
        return routing

    def _role_routing(self, recipient: str, role: str, spam: bool) -> Routing:
        """Mail for ``recipient``, the ``role`` address: to the address set for the role."""
        address = self.role_addresses.get(role, "")
        if not address:
            return Routing(recipient, Verdict.QUARANTINE,
                           reason=f"no {role} address is set (CASEGATE_{role.upper()},"
                                  " or a super administrator's email address)")
        if spam:
            return Routing(recipient, Verdict.QUARANTINE,
                           reason=f"classified as spam; for the {role} address")
        found = self._route_address(address)
        targets = self._reached(found)
        if not targets:
            return Routing(recipient, Verdict.QUARANTINE,
                           reason=f"the {role} address {address} takes no mail:"
                                  f" {found.reason or found.verdict.value}")
        return Routing(recipient, Verdict.ACCEPT, targets=targets,
                       reason=f"{role} mail goes to the {role} address, {address}")

    def _route_address(self, recipient: str, spam: bool = False, releasing: bool = False,
                       sender: str = "") -> Routing:
        """:meth:`route` by the directory and the rules alone; ``releasing`` skips the rules
        that send to quarantine, whose hold a person has just lifted."""
        try:
            address = normalize_address(recipient)
        except InvalidAddress as exc:
            return Routing(recipient, Verdict.INVALID, reason=str(exc))
        if address in self.agent_reply_addresses:
            return self._agent_reply_routing(address, spam)
        owner = self.local_owner(address)
        if owner is None and domain_of(address) not in self.domains:
            return Routing(address, Verdict.RELAY_DENIED, reason="relay access denied")
        if owner is None and ROUTING_SIGNS.search(address.rpartition("@")[0]):
            # user%elsewhere@ours, elsewhere!user@ours: a rule changing the domain would send
            # them on to an address the sender chose (Postfix: allow_untrusted_routing=no).
            return Routing(address, Verdict.INVALID,
                           reason="a % or ! in the local part asks for mail to be sent on;"
                                  " this server does not")
        recognized = owner is not None
        owner_is_account = owner in self.accounts
        rules = self._matching(address, owner, sender)
        # A reject wins over every other rule, wherever it stands; then a quarantine rule.
        rejecting = next((r for r in rules if r.action == RuleAction.REJECT), None)
        if rejecting is not None:
            return Routing(address, Verdict.REJECT, recognized, (rejecting.id,),
                           reason=rejecting.reject_text or DEFAULT_REJECT_TEXT)
        holding = next((r for r in rules
                        if r.action == RuleAction.QUARANTINE and not releasing), None)
        if holding is not None:
            return Routing(address, Verdict.QUARANTINE, recognized, (holding.id,),
                           reason=f"held by rule #{holding.id}")
        rules = [r for r in rules if r.action == RuleAction.MODIFY]
        rate_limit = next((r.rate_limit for r in rules if r.rate_limit), None)
        skipped_for_spam = False
        if spam:
            kept = [r for r in rules if r.bypass_spam]
            skipped_for_spam = len(kept) < len(rules)
            rules = kept

        change = _combine(rules, address)
        targets: list[Target] = []
        primary = ((Target(change.primary, TargetKind.REMOTE, relay=change.route),)
                   if change.route else self.targets_for(change.primary))
        for target in primary + tuple(t for extra in change.also for t in self.targets_for(extra)):
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
                           reason="no such user here", rate_limit=rate_limit)
        return Routing(address, Verdict.ACCEPT, recognized, rule_ids, tuple(targets),
                       edits=change.edits, rate_limit=rate_limit)

    @staticmethod
    def _agent_reply_routing(address: str, spam: bool) -> Routing:
        """An agent's reply address reaches the desk alone: no rule applies to it, so an
        agent's answer is never forwarded anywhere else."""
        if spam:
            return Routing(address, Verdict.QUARANTINE, True,
                           reason="classified as spam; sent to an agent's reply address")
        return Routing(address, Verdict.ACCEPT, True, targets=(Target(address, TargetKind.DESK),))


def _list_forms(sender: str) -> tuple[str, ...]:
    """The envelope sender as address lists hold addresses (A-label domain, lower case)."""
    if not sender or sender == "<>":
        return ()
    try:
        return (normalize_address(sender),)
    except InvalidAddress:
        return (sender.lower(),)


@dataclass
class _Change:
    primary: str
    route: str = ""
    also: list[str] = field(default_factory=list)
    edits: Edits = NO_EDITS


def _combine(rules: list[CompiledRule], address: str) -> _Change:
    """The effect of the modify rules that apply, in their order (see the module's notes)."""
    change = _Change(address)
    rewritten = False
    headers: list[tuple[str, str]] = []
    prefix = original_header = ""
    spam_headers = remove_attachments = require_tls = False
    for rule in rules:
        if rule.rewrite and not rewritten:
            change.primary = rule.rewritten(address)
            rewritten = True
        if rule.route and not change.route:
            change.route = rule.route
            require_tls = require_tls or rule.route_requires_tls
        change.also += [a for a in rule.also_deliver if a not in change.also]
        headers += [h for h in rule.custom_headers if h not in headers]
        prefix = prefix or rule.subject_prefix
        original_header = original_header or rule.original_recipient_header
        spam_headers = spam_headers or rule.spam_headers
        remove_attachments = remove_attachments or rule.remove_attachments
        require_tls = require_tls or rule.require_tls
    # Most mail is only re-addressed: skip building an Edits (half a microsecond, frozen).
    if headers or prefix or original_header or spam_headers or remove_attachments or require_tls:
        change.edits = Edits(tuple(headers), original_header, spam_headers, prefix,
                             remove_attachments, require_tls)
    return change


DEFAULT_REJECT_TEXT = "Message rejected by the recipient's mail policy"


def compile_rule(*, id: int, position: int, match_type: str, match_value: str = "",
                 rewrite: str = "", rewrite_value: str = "",
                 also_deliver: Iterable[str] = (), apply_to: str = "all",
                 custom_headers: Iterable[Iterable[str]] = (), **options: object
                 ) -> CompiledRule:
    """A rule as the engine uses it, with addresses and domains normalised. ``options``
    are the other :class:`CompiledRule` fields."""
    value = rewrite_value
    if rewrite == Rewrite.RECIPIENT:
        value = normalize_address(rewrite_value)
    elif rewrite == Rewrite.DOMAIN:
        value = normalize_domain(rewrite_value)
    elif rewrite == Rewrite.USER:
        value = rewrite_value.lower()
    if match_type in (MatchType.ADDRESS, MatchType.GROUP):
        match_value = normalize_address(match_value)
    return CompiledRule(
        id=id,
        position=position,
        match_type=match_type,
        match_value=match_value,
        rewrite=rewrite,
        rewrite_value=value,
        also_deliver=tuple(normalize_address(a) for a in also_deliver),
        affects=account_types(apply_to),
        custom_headers=tuple((str(n), str(v)) for n, v in custom_headers),
        **options,  # type: ignore[arg-type]
    )


def build_table(*, version: int, domains: Iterable[str], accounts: Iterable[str],
                groups: Mapping[str, Iterable[str]], intakes: Mapping[str, int],
                rules: Iterable[CompiledRule], mailbox_relays: Mapping[str, str] | None = None,
                delimiter: str = "+", unit_of: Mapping[str, int] | None = None,
                unit_parents: Mapping[int, int | None] | None = None,
                address_lists: Mapping[int, Iterable[str]] | None = None,
                role_addresses: Mapping[str, str] | None = None,
                agent_addresses: Iterable[str] = (), agent_reply_addresses: Iterable[str] = ()
                ) -> RoutingTable:
    """Index the rules (by address, group and pattern) and the directory into a table.

    ``role_addresses`` maps ``postmaster`` and ``abuse`` to where their mail goes;
    ``agent_addresses``: the desk's agents' addresses; ``agent_reply_addresses``: their own
    addresses for answering notifications, which reach the desk alone."""
    exact: dict[str, list[CompiledRule]] = {}
    by_group: dict[str, list[CompiledRule]] = {}
    patterns: list[tuple[str, CompiledRule]] = []
    match_all: list[CompiledRule] = []
    for rule in rules:
        if rule.match_type == MatchType.ADDRESS:
            exact.setdefault(rule.match_value, []).append(rule)
        elif rule.match_type == MatchType.GROUP:
            by_group.setdefault(rule.match_value, []).append(rule)
        elif rule.match_type == MatchType.PATTERN:
            patterns.append((rule.match_value, rule))
        else:
            match_all.append(rule)
    parents = dict(unit_parents or {})
    lineage: dict[int, frozenset[int]] = {}
    depth: dict[int, int] = {}
    for unit in parents:
        chain: list[int] = []
        current: int | None = unit
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        lineage[unit] = frozenset(chain)
        depth[unit] = len(chain)
    lists = {}
    for list_id, entries in (address_lists or {}).items():
        words = [e.strip().lower().lstrip("@") for e in entries if e.strip()]
        lists[list_id] = AddressListEntries(frozenset(w for w in words if "@" in w),
                                            frozenset(w for w in words if "@" not in w))
    return RoutingTable(
        version=version,
        domains=frozenset(domains),
        accounts=frozenset(accounts),
        groups={k: tuple(v) for k, v in groups.items()},
        intakes=dict(intakes),
        exact_rules={k: tuple(v) for k, v in exact.items()},
        pattern_rules=PatternIndex(patterns),
        group_rules={k: tuple(v) for k, v in by_group.items()},
        match_all_rules=tuple(match_all),
        mailbox_relays=dict(mailbox_relays or {}),
        delimiter=delimiter,
        unit_of=dict(unit_of or {}),
        unit_lineage=lineage,
        unit_depth=depth,
        address_lists=lists,
        role_addresses={role: address.strip().lower()
                        for role, address in (role_addresses or {}).items() if address.strip()},
        agent_addresses=frozenset(a.lower() for a in agent_addresses),
        agent_reply_addresses=frozenset(agent_reply_addresses),
    )
