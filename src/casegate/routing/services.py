"""Adding, listing and removing routing rules, with validation a user can act on."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db.models import F, Max, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from casegate.config import get_config
from casegate.directory.addresses import (
    InvalidAddress,
    domain_of,
    normalize_address,
    normalize_domain,
    split_address,
    strip_extension,
)
from casegate.directory.claims import Claim, Claimant, mailbox_addresses, owner_of
from casegate.directory.models import Domain, Group, OrgUnit
from casegate.directory.services import DirectoryError, find_unit, unit_paths
from casegate.errors import CasegateError
from casegate.routing.engine import account_types
from casegate.routing.models import AddressList, Route, Rule
from casegate.routing.patterns import PatternError, check_pattern
from casegate.routing.versions import record, rule_fields, versioned
from casegate.routing.vocabulary import AccountType, ListMode, MatchType, Rewrite, RuleAction

MAX_PATTERN_LENGTH = 1000
_ACTIONS = frozenset(RuleAction.values)


class RuleError(CasegateError):
    """A rule was refused."""


def _rule_claim(rules: QuerySet[Rule]) -> Claim | None:
    rule = rules.first()
    if rule is None:
        return None
    return Claim("rule", _("the forwarding address of rule #%(id)s") % {"id": rule.pk})


def _forwarding(address: str) -> Claim | None:
    return _rule_claim(Rule.objects.filter(match_type=MatchType.ADDRESS, match_value=address))


def _forwarding_tagged(address: str, delimiter: str) -> Claim | None:
    local, _at, domain = address.rpartition("@")
    if not delimiter or delimiter in local:
        return None
    return _rule_claim(Rule.objects.filter(match_type=MatchType.ADDRESS,
                                           match_value__startswith=f"{local}{delimiter}",
                                           match_value__endswith=f"@{domain}"))


# A rule's address is claimed after every mailbox (see casegate.directory.claims).
FORWARDING = Claimant(40, _forwarding, find_tagged=_forwarding_tagged)


@dataclass
class RuleSpec:
    """What a user asks for when adding a rule (from the CLI, the console or the API)."""

    match_type: str
    match_value: str = ""
    rewrite: str = ""
    rewrite_value: str = ""
    also_deliver: list[str] = field(default_factory=list)
    bypass_spam: bool = False
    apply_to: str | None = None
    description: str = ""
    enabled: bool = True
    position: int | None = None
    action: str = RuleAction.MODIFY
    reject_text: str = ""
    org_unit: str = ""
    sender_list: str = ""
    sender_list_mode: str = ""
    recipient_list: str = ""
    recipient_list_mode: str = ""
    original_recipient_header: str = ""
    spam_headers: bool = False
    custom_headers: list[tuple[str, str]] = field(default_factory=list)
    subject_prefix: str = ""
    route: str = ""
    remove_attachments: bool = False
    require_tls: bool = False
    rate_limit: int | None = None

    def modifies(self) -> bool:
        """Whether the spec changes the message or its delivery (beyond matching)."""
        return bool(self.rewrite or self.also_deliver or self.bypass_spam
                    or self.original_recipient_header or self.spam_headers
                    or self.custom_headers or self.subject_prefix or self.route
                    or self.remove_attachments or self.require_tls)


def company_domains() -> set[str]:
    return set(Domain.objects.values_list("name", flat=True))


class Directory:
    """What rules refer to, asked one question at a time: the company's domains, the
    addresses with a mailbox (accounts, groups, desk intakes), groups, address lists,
    routes and units."""

    def __init__(self) -> None:
        self.domains = company_domains()

    def has_mailbox(self, address: str) -> bool:
        owner = owner_of(address)
        return owner is not None and not owner.forwarding

    def is_group(self, address: str) -> bool:
        return Group.objects.filter(address=address).exists()

    def address_list(self, name: str) -> AddressList | None:
        return AddressList.objects.filter(name=name).first()

    def route(self, name: str) -> Route | None:
        return Route.objects.filter(name=name).first()

    def unit(self, path: str) -> OrgUnit | None:
        """The unit at ``path``; :class:`DirectoryError` names the first part missing."""
        return find_unit(path)


class PreloadedDirectory(Directory):
    """The same answers from each table read once, for checking many rules at a time (an
    import): set lookups instead of queries per rule."""

    def __init__(self) -> None:
        super().__init__()
        self._mailboxes = mailbox_addresses()
        self._groups = set(Group.objects.values_list("address", flat=True))
        self._lists = {found.name: found for found in AddressList.objects.all()}
        self._routes = {found.name: found for found in Route.objects.all()}
        paths = unit_paths()
        self._units = {paths[pk]: unit for pk, unit in OrgUnit.objects.in_bulk().items()}

    def has_mailbox(self, address: str) -> bool:
        return address in self._mailboxes

    def is_group(self, address: str) -> bool:
        return address in self._groups

    def address_list(self, name: str) -> AddressList | None:
        return self._lists.get(name)

    def route(self, name: str) -> Route | None:
        return self._routes.get(name)

    def unit(self, path: str) -> OrgUnit | None:
        names = [name.strip() for name in path.split("/") if name.strip()]
        if not names:
            return None
        # A unit not found is looked up again, for the message naming what is missing.
        return self._units.get("/" + "/".join(names)) or super().unit(path)


def _recognized_or_remote(address: str, directory: Directory, also: bool = False) -> str:
    """A rule may send mail only to a real local owner or to another domain."""
    normalized = normalize_address(address)
    if domain_of(normalized) in directory.domains and not directory.has_mailbox(normalized):
        text = (_("the also-deliver address %(address)s is not an account, group or desk "
                  "intake; rules are not applied again to a recipient a rule set, so mail "
                  "sent there would go nowhere") if also else
                _("the new recipient %(address)s is not an account, group or desk intake; "
                  "rules are not applied again to a recipient a rule set, so mail sent "
                  "there would go nowhere"))
        raise RuleError(text % {"address": normalized})
    return normalized


def _routes_to_itself(address: str) -> str:
    return _("the rule would route %(address)s to itself") % {"address": address}


def _no_rule(rule_id: int) -> str:
    return _("there is no rule #%(id)s; see: casegate rule list") % {"id": rule_id}


def _validate_match(spec: RuleSpec, directory: Directory) -> str:
    if spec.match_type == MatchType.ADDRESS:
        address = normalize_address(spec.match_value)
        if domain_of(address) not in directory.domains:
            raise RuleError(
                _("%(domain)s is not one of the company's domains; add it first with: "
                  "casegate domain add %(domain)s") % {"domain": domain_of(address)})
        # user+tag@ is the user's too: the mailbox behind user@ recognises it.
        for form in dict.fromkeys((address, strip_extension(
                address, get_config().recipient_delimiter))):
            if directory.has_mailbox(form):
                raise RuleError(
                    _("%(address)s is %(owner)s; a forwarding address must not be an "
                      "account, mailbox or group") % {"address": address,
                                                      "owner": owner_of(form)})
        return address
    if spec.match_type == MatchType.PATTERN:
        if not spec.match_value or len(spec.match_value) > MAX_PATTERN_LENGTH:
            raise RuleError(_("the pattern must be 1 to %(max)s characters long")
                            % {"max": MAX_PATTERN_LENGTH})
        try:
            check_pattern(spec.match_value)
        except PatternError as exc:
            raise RuleError(_("%(pattern)r is not a valid regular expression: %(error)s")
                            % {"pattern": spec.match_value, "error": exc}) from None
        return spec.match_value
    if spec.match_type == MatchType.GROUP:
        group = normalize_address(spec.match_value)
        if not directory.is_group(group):
            raise RuleError(_("there is no group %(group)s; see: casegate group list")
                            % {"group": group})
        return group
    if spec.match_type == MatchType.ALL:
        return ""
    raise RuleError(_("unknown match type %(type)r: use address, pattern, group or all")
                    % {"type": spec.match_type})


def _validate_rewrite(spec: RuleSpec, match_value: str, directory: Directory) -> str:
    if spec.rewrite == Rewrite.NONE:
        return ""
    if not spec.rewrite_value:
        raise RuleError(_("the new envelope recipient, username or domain is empty"))
    if spec.rewrite == Rewrite.RECIPIENT:
        if normalize_address(spec.rewrite_value) == match_value:
            raise RuleError(_routes_to_itself(match_value))
        return _recognized_or_remote(spec.rewrite_value, directory)
    if spec.rewrite == Rewrite.USER:
        local = split_address(f"{spec.rewrite_value}@example.com")[0]
        if spec.match_type == MatchType.ADDRESS:
            target = f"{local}@{domain_of(match_value)}"
            if target == match_value:
                raise RuleError(_routes_to_itself(match_value))
            _recognized_or_remote(target, directory)
        return local
    if spec.rewrite == Rewrite.DOMAIN:
        new_domain = normalize_domain(spec.rewrite_value)
        if spec.match_type == MatchType.ADDRESS:
            if domain_of(match_value) == new_domain:
                raise RuleError(_routes_to_itself(match_value))
            local = match_value.rpartition("@")[0]
            _recognized_or_remote(f"{local}@{new_domain}", directory)
        return new_domain
    raise RuleError(_("unknown recipient change %(change)r: use recipient, user or domain")
                    % {"change": spec.rewrite})


def _checked_action(spec: RuleSpec) -> str:
    """The reject text to store; a reject or quarantine rule does nothing else."""
    if spec.action not in _ACTIONS:
        raise RuleError(_("the action is modify, reject or quarantine, not %(action)r")
                        % {"action": spec.action})
    if spec.action == RuleAction.MODIFY:
        if spec.reject_text:
            raise RuleError(_("a reject text belongs to a rule whose action is reject"))
        return ""
    if spec.modifies():
        raise RuleError(_("a reject or quarantine rule changes nothing else: leave out the "
                          "options that modify the message"))
    text = " ".join(spec.reject_text.split())
    if len(text) > 300 or any(not 0x20 <= ord(c) <= 0x7E for c in text):
        raise RuleError(_("the reject text is at most 300 printable ASCII characters (it "
                          "goes into the SMTP reply)"))
    if text and spec.action != RuleAction.REJECT:
        raise RuleError(_("a reject text belongs to a rule whose action is reject"))
    return text


def add_rule(spec: RuleSpec) -> Rule:
    """Validate ``spec`` and save it as a rule (a new version of the rule set)."""
    with versioned("add a rule"):
        rule = create_rule(spec)
        record({"op": "insert", "rule": rule_fields(rule)})
    return rule


def create_rule(spec: RuleSpec) -> Rule:
    """Validate ``spec`` and save the rule; the caller records it in a version."""
    rule = checked_rule(spec, Directory())
    last = Rule.objects.aggregate(m=Max("position"))["m"] or 0
    position = spec.position if spec.position is not None else last + 1
    if position < 1:
        raise RuleError(_("the position must be 1 or more (1 is the highest priority)"))
    if position <= last:
        Rule.objects.filter(position__gte=position).update(position=F("position") + 1)
    rule.position = min(position, last + 1)
    rule.save()
    return rule


def checked_rule(spec: RuleSpec, directory: Directory) -> Rule:
    """``spec`` validated against ``directory``, as a rule not saved yet and without a
    position."""
    try:
        match_value = _validate_match(spec, directory)
        rewrite_value = _validate_rewrite(spec, match_value, directory)
        also = []
        for address in spec.also_deliver:
            normalized = _recognized_or_remote(address, directory, also=True)
            if normalized not in also:
                also.append(normalized)
    except InvalidAddress as exc:
        raise RuleError(str(exc)) from None
    reject_text = _checked_action(spec)
    if (spec.action == RuleAction.MODIFY and spec.match_type == MatchType.ADDRESS
            and not (spec.rewrite or also or spec.route)):
        # The address is no account (see above): without a destination, mail goes nowhere.
        raise RuleError(_("the rule changes nothing: give a new recipient, username or "
                          "domain, an address to also deliver to, or a route"))
    apply_to = _account_types(spec)
    options = _checked_options(spec, directory)
    return _unsaved_rule(
        description=spec.description,
        enabled=spec.enabled,
        match_type=spec.match_type,
        match_value=match_value,
        rewrite=spec.rewrite,
        rewrite_value=rewrite_value,
        bypass_spam=spec.bypass_spam,
        also_deliver=also,
        apply_to=apply_to,
        action=spec.action,
        reject_text=reject_text,
        **options,
    )


@cache
def _rule_fields() -> tuple[list[tuple[str, Callable[[], Any]]], list[str]]:
    """Each stored field of a rule (its name and default), and those naming another row."""
    fields = Rule._meta.concrete_fields
    return ([(f.name, f.get_default) for f in fields],
            [f.name for f in fields if f.is_relation])


def _unsaved_rule(**values: Any) -> Rule:
    """A new rule from its fields' values (related rows as objects), built as Django builds
    a row it reads, by position: half the time of ``Rule(**values)``, which an import of
    100,000 rules pays for each."""
    fields, relations = _rule_fields()
    related = [(name, values.pop(name)) for name in relations if values.get(name) is not None]
    by_position: Callable[..., Rule] = Rule  # what Django's type checking does not follow
    rule = by_position(*[values.pop(name) if name in values else default()
                         for name, default in fields])
    if values:
        raise TypeError(f"a rule has no field {', '.join(values)}")
    for name, value in related:
        setattr(rule, name, value)
    return rule


def _account_types(spec: RuleSpec) -> str:
    """The stored ``apply_to``: a comma-separated subset of users, groups, unrecognized.
    By default a rule for all recipients affects only unrecognized addresses, as in the
    console; other rules affect every type."""
    if not spec.apply_to:
        return Rule.APPLY_UNRECOGNIZED if spec.match_type == MatchType.ALL else Rule.APPLY_ALL
    words = account_types(spec.apply_to)
    if not words or not words <= set(AccountType):
        raise RuleError(_("the account types to affect are users, groups and unrecognized "
                          "(or all, recognized), not %(value)r") % {"value": spec.apply_to})
    return ",".join(t for t in AccountType if t in words)


_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,75}")
# Headers that carry the message's structure, its origin or its authentication: a rule
# adding a second one would corrupt the message or forge a trace.
_PROTECTED_HEADERS = re.compile(
    r"(content-.*|mime-version|from|sender|to|cc|bcc|reply-to|subject|date|message-id|"
    r"in-reply-to|references|received|return-path|delivered-to|dkim-signature|arc-.*|"
    r"authentication-results|x-casegate-loop)", re.IGNORECASE)


def _header_name(name: str) -> str:
    name = name.strip()
    if not _HEADER_NAME.fullmatch(name):
        raise RuleError(_("%(name)r is not a header name (letters, digits and hyphens, at most "
                          "76)") % {"name": name})
    if _PROTECTED_HEADERS.fullmatch(name):
        raise RuleError(_("a rule cannot add the header %(name)s: it belongs to the message's "
                          "structure, origin or authentication") % {"name": name})
    return name


def _line_text(text: str, what: str, limit: int) -> str:
    """``text`` when it fits on one line; ``what`` is translated only for the message (an
    import checks 100,000 rules)."""
    if len(text) > limit or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise RuleError(_("%(what)s is at most %(limit)s characters on one line")
                        % {"what": _(what), "limit": limit})
    return text


def _address_list(name: str, mode: str, directory: Directory
                  ) -> tuple[AddressList | None, str]:
    if not name:
        if mode:
            raise RuleError(_("an address list mode needs an address list"))
        return None, ""
    found = directory.address_list(name)
    if found is None:
        raise RuleError(_("there is no address list %(name)r; see: casegate address-list list")
                        % {"name": name})
    if mode not in (ListMode.BYPASS, ListMode.ONLY):
        raise RuleError(_("an address list is used to bypass the rule or to apply it only to "
                          "the listed addresses: the mode is bypass or only"))
    return found, mode


def _checked_options(spec: RuleSpec, directory: Directory) -> dict[str, Any]:
    """The options beyond match and recipient change, validated, as model fields."""
    try:
        unit = directory.unit(spec.org_unit)
    except DirectoryError as exc:
        raise RuleError(str(exc)) from None
    sender_list, sender_mode = _address_list(spec.sender_list, spec.sender_list_mode,
                                             directory)
    recipient_list, recipient_mode = _address_list(spec.recipient_list,
                                                   spec.recipient_list_mode, directory)
    route = None
    if spec.route:
        route = directory.route(spec.route)
        if route is None:
            raise RuleError(_("there is no route %(name)r; see: casegate route list")
                            % {"name": spec.route})
    if spec.rate_limit is not None and spec.rate_limit < 1:
        raise RuleError(_("the rate limit is a number of messages per minute, 1 or more"))
    headers = []
    for name, value in spec.custom_headers:
        headers.append([_header_name(name),
                        _line_text(value.strip(), gettext_noop("a header's value"), 500)])
    return {
        "org_unit": unit,
        "sender_list": sender_list, "sender_list_mode": sender_mode,
        "recipient_list": recipient_list, "recipient_list_mode": recipient_mode,
        "original_recipient_header": (_header_name(spec.original_recipient_header)
                                      if spec.original_recipient_header else ""),
        "spam_headers": spec.spam_headers,
        "custom_headers": headers,
        "subject_prefix": _line_text(spec.subject_prefix, gettext_noop("the subject prefix"),
                                     100),
        "route": route,
        "remove_attachments": spec.remove_attachments,
        "require_tls": spec.require_tls,
        "rate_limit": spec.rate_limit,
    }


def _existing(rule_id: int) -> Rule:
    rule = Rule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise RuleError(_no_rule(rule_id))
    return rule


def remove_rule(rule_id: int) -> None:
    with versioned(f"remove rule #{rule_id}"):
        rule = _existing(rule_id)
        record({"op": "delete", "rule": rule_fields(rule)})
        rule.delete()
        Rule.objects.filter(position__gt=rule.position).update(position=F("position") - 1)


def move_rule(rule_id: int, position: int) -> Rule:
    """Put a rule at ``position`` (1 = highest priority); the others keep their order."""
    with versioned(f"move rule #{rule_id} to position {position}"):
        rule = _existing(rule_id)
        count = Rule.objects.count()
        if not 1 <= position <= count:
            raise RuleError(_("the position must be from 1 to %(count)s") % {"count": count})
        old = rule.position
        if position < old:
            Rule.objects.filter(position__gte=position, position__lt=old).update(
                position=F("position") + 1)
        elif position > old:
            Rule.objects.filter(position__gt=old, position__lte=position).update(
                position=F("position") - 1)
        if position != old:
            rule.position = position
            rule.save(update_fields=["position", "updated_at"])
            record({"op": "move", "id": rule.pk, "from": old, "to": position})
    return rule


def update_rule(rule_id: int, fields: dict[str, Any]) -> Rule:
    """Set stored fields of a rule (as :func:`rule_fields` names them) as they are."""
    with versioned(f"change rule #{rule_id}"):
        rule = _existing(rule_id)
        before = {name: getattr(rule, name) for name in fields}
        for name, value in fields.items():
            setattr(rule, name, value)
        rule.save(update_fields=[*fields, "updated_at"])
        record({"op": "update", "id": rule.pk, "before": before, "after": dict(fields)})
    return rule


def set_enabled(rule_id: int, enabled: bool) -> Rule:
    with versioned(f"{'enable' if enabled else 'disable'} rule #{rule_id}"):
        return update_rule(rule_id, {"enabled": enabled})


@dataclass
class RuleNames:
    """What the rows a rule refers to are called, each table read once: rules are read
    without their related rows (joining them costs a quarter of reading 100,000 rules)."""

    units: dict[int, str]
    lists: dict[int, str]
    routes: dict[int, str]

    @classmethod
    def read(cls) -> RuleNames:
        return cls(unit_paths(), dict(AddressList.objects.values_list("id", "name")),
                   dict(Route.objects.values_list("id", "name")))


def ordered_rules() -> list[Rule]:
    """Every rule, in order, without their related rows (see :class:`RuleNames`)."""
    return list(Rule.objects.order_by("position", "id"))


def rules_as_dicts(rules: Iterable[Rule] | None = None) -> list[dict[str, Any]]:
    """All rules (or ``rules``) in order, as :func:`rule_as_dict` writes them, read with a
    fixed number of queries."""
    rules = ordered_rules() if rules is None else rules
    names = RuleNames.read()  # after the rules, so that it knows every row they name
    return [rule_as_dict(rule, names) for rule in rules]


def rule_as_dict(rule: Rule, names: RuleNames | None = None) -> dict[str, Any]:
    names = names or RuleNames.read()
    return {
        "id": rule.pk,
        "position": rule.position,
        "description": rule.description,
        "enabled": rule.enabled,
        "match": rule.match_type,
        "match_value": rule.match_value,
        "change_recipient": rule.rewrite or None,
        "change_value": rule.rewrite_value or None,
        "bypass_spam": rule.bypass_spam,
        "also_deliver": list(rule.also_deliver),
        "apply_to": rule.apply_to,
        "action": rule.action,
        "reject_text": rule.reject_text or None,
        "org_unit": names.units[rule.org_unit_id] if rule.org_unit_id else "/",
        "sender_list": names.lists[rule.sender_list_id] if rule.sender_list_id else None,
        "sender_list_mode": rule.sender_list_mode or None,
        "recipient_list": (names.lists[rule.recipient_list_id] if rule.recipient_list_id
                           else None),
        "recipient_list_mode": rule.recipient_list_mode or None,
        "original_recipient_header": rule.original_recipient_header or None,
        "spam_headers": rule.spam_headers,
        "custom_headers": [list(h) for h in rule.custom_headers],
        "subject_prefix": rule.subject_prefix or None,
        "route": names.routes[rule.route_id] if rule.route_id else None,
        "remove_attachments": rule.remove_attachments,
        "require_tls": rule.require_tls,
        "rate_limit": rule.rate_limit,
    }
