"""Receiving limits: per client address and per recipient, one-minute windows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from casegate.config import get_config
from casegate.gateway.handler import GatewayHandler
from casegate.gateway.limits import RateLimiter, SessionLimits
from casegate.routing.engine import Routing, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_lets_the_limit_through_then_refuses_until_a_minute_passed() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.allow("a", 3) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", 3)  # keys are counted apart
    clock.now += 59.9
    assert not limiter.allow("a", 3)
    clock.now += 0.2
    assert limiter.allow("a", 3)


def test_quiet_keys_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    for key in range(100):
        limiter.allow(f"client {key}", 5)
    clock.now += 120
    limiter.allow("new", 5)
    assert list(limiter._hits) == ["new"]


def handler(**config: Any) -> GatewayHandler:
    settings = get_config().__class__(**{**get_config().__dict__, **config})
    return GatewayHandler(settings, None, None, [])  # type: ignore[arg-type]


def test_the_gateway_answers_451_with_the_reason() -> None:
    gateway = handler(client_rate=2, recipient_rate=0, trusted_networks=())
    session = SimpleNamespace(peer=("203.0.113.9", 4000))
    routing = Routing("help@solarmora.com", Verdict.ACCEPT)
    answers = [gateway._over_limit(session, routing, False) for _ in range(3)]  # type: ignore[arg-type]
    assert answers[:2] == ["", ""]
    assert answers[2].startswith("451 4.7.1 Too much mail from 203.0.113.9: at most 2")
    limited = Routing("help@solarmora.com", Verdict.ACCEPT, rate_limit=1)
    other = SimpleNamespace(peer=("203.0.113.10", 4000))
    assert gateway._over_limit(other, limited, False) == ""  # type: ignore[arg-type]
    gateway._count_messages([limited])  # its message was accepted at DATA
    assert gateway._over_limit(other, limited, False).startswith(  # type: ignore[arg-type]
        "451 4.7.1 <help@solarmora.com>: this address takes at most 1 message a minute")


def test_a_recipient_s_allowance_counts_messages_accepted_not_rcpt_commands() -> None:
    gateway = handler(client_rate=0, recipient_rate=2, trusted_networks=())
    help_desk = Routing("help@solarmora.com", Verdict.ACCEPT)
    sessions = [SimpleNamespace(peer=(f"203.0.113.{n}", 4000)) for n in (1, 2)]
    for session in sessions:  # two senders that stop after RCPT
        assert gateway._over_limit(session, help_desk, False) == ""  # type: ignore[arg-type]
    assert not gateway.limits.reached("rcpt help@solarmora.com", 1)
    gateway._count_messages([help_desk, help_desk])  # one message, the address twice
    assert gateway._over_limit(sessions[0], help_desk, False) == ""  # type: ignore[arg-type]
    gateway._count_messages([help_desk])
    assert gateway._over_limit(sessions[1], help_desk, False).startswith(  # type: ignore[arg-type]
        "451 4.7.1 <help@solarmora.com>: this address takes at most 2 messages a minute")


def test_a_connection_beyond_the_session_limits_is_refused_with_the_reason() -> None:
    limits = SessionLimits(total=3, per_client=2, exempt=lambda ip: ip == "192.0.2.1")
    assert [limits.admit("203.0.113.9") for _ in range(2)] == ["", ""]
    assert limits.admit("203.0.113.9") == (
        "Too many connections from 203.0.113.9: at most 2 at once; try again later")
    assert limits.admit("192.0.2.1") == ""  # exempt from the count per client
    assert limits.admit("198.51.100.7") == (
        "Too many connections: this server takes at most 3 at once; try again later")
    limits.release("203.0.113.9")
    assert limits.admit("198.51.100.7") == ""


def test_trusted_clients_have_no_client_limit() -> None:
    from casegate.gateway.server import Gateway

    gateway = handler(client_rate=1)
    session = SimpleNamespace(peer=("127.0.0.1", 4000))
    routing = Routing("help@solarmora.com", Verdict.ACCEPT)
    assert {gateway._over_limit(session, routing, True) for _ in range(5)} == {""}  # type: ignore[arg-type]
    trusted = Gateway(gateway.config, gateway).limits.exempt
    assert trusted("127.0.0.1") and not trusted("203.0.113.9")
    assert not trusted("")  # a Unix socket's client: only LMTP's is the company's server
