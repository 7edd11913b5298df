"""Named next hops: a rule's "change route" sends mail there instead of MX or the mailbox."""

from __future__ import annotations

from django.db import transaction

from casegate.mail.hostport import parse_hostport
from casegate.routing.models import Route
from casegate.routing.services import RuleError


@transaction.atomic
def save_route(name: str, host_port: str, require_tls: bool = False) -> Route:
    name = name.strip()
    if not name or len(name) > 100:
        raise RuleError("a route's name is 1 to 100 characters")
    hop = parse_hostport(host_port, example="crm-relay.example:2525")
    route, _ = Route.objects.update_or_create(
        name=name, defaults={"host": hop.host, "port": hop.port, "require_tls": require_tls})
    return route


@transaction.atomic
def remove_route(name: str) -> None:
    route = Route.objects.filter(name=name).first()
    if route is None:
        raise RuleError(f"there is no route {name!r}; see: casegate route list")
    if route.rules.exists():
        raise RuleError(f"rules use the route {name!r}; change or remove them first")
    route.delete()
