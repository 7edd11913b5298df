"""casegate's SMTP session overrides aiosmtpd internals (pinned in pyproject.toml): this
fails when a new aiosmtpd changes one of them, and says what to re-check before the pin
is moved. When all is re-checked, record the new source hashes printed in the failure."""

from __future__ import annotations

import hashlib
import inspect

import pytest
from aiosmtpd.smtp import SMTP

from casegate.gateway.server import GatewaySMTP

# aiosmtpd's SMTP method -> (sha256 of its source, first 16 digits; what casegate relies on)
RELIED_ON = {
    "__init__": ("8a9ca80f23ad9bf2",
                 "it finds smtp_* commands and auth_* mechanisms with dir(self) and"
                 " inspect.getmembers, and handler hooks with dir(handler): GatewaySMTP's and"
                 " GatewayHandler's __dir__ list only those (no AUTH mechanism is offered);"
                 " it reads the EHLO hook's inspect.signature, which handler.py pins"),
    "_getaddr": ("0aeb21c56ac1260e",
                 "GatewaySMTP._getaddr parses plain <user@host> paths itself and must give"
                 " the same answer (tests/gateway/test_server_units.py); it also keeps the"
                 " raw parameters for _getparams"),
    "_getparams": ("ca3dd15943d34dcc",
                   "GatewaySMTP._getparams takes the DSN parameters (RET, ENVID, NOTIFY,"
                   " ORCPT) out of the upper-cased result, with their original case"),
    "smtp_MAIL": ("80dd938e7791acfb",
                  "it calls _getaddr, then _getparams, then the MAIL hook, which reads"
                  " dsn_parameters; its 552 size reply is rewritten in server.py"),
    "smtp_RCPT": ("a0d6605883c0e608",
                  "it calls _getaddr, then _getparams, then the RCPT hook, which reads"
                  " dsn_parameters"),
    "smtp_DATA": ("3a33f30d3fd6d02f",
                  "GatewaySMTP.smtp_DATA swaps self._reader for BareLineFeeds, which offers"
                  " only the readuntil(b'\\r\\n') and read(n) this loop calls, and tells"
                  " GatewaySMTP when it hands on the final dot, after which this loop calls"
                  " the DATA hook (the session's clock is stopped then); its 500 and 552"
                  " replies are rewritten in server.py"),
    "smtp_EHLO": ("1d91592dd954c4cd",
                  "GatewayHandler.handle_EHLO removes the 250-AUTH line and adds its own"
                  " before the last line of the reply list this builds; it pushes the"
                  " lines one by one, which GatewaySMTP.push writes out together; it adds"
                  " to self.command_size_limits, which GatewaySMTP makes each session's own;"
                  " GatewaySMTP.smtp_EHLO refuses a malformed hostname before it"),
    "smtp_AUTH": ("79078b308377ac48", "GatewaySMTP.smtp_AUTH refuses AUTH with a 502"),
    "smtp_HELO": ("c61e63948c38ce28",
                  "GatewaySMTP.smtp_HELO refuses a malformed hostname before it"),
    "smtp_NOOP": ("3b50ce77fba2859a", "GatewaySMTP counts it as a junk command first"),
    "smtp_RSET": ("12a5581e3d84104e", "GatewaySMTP counts it as a junk command first"),
    "smtp_VRFY": ("3fc88a3b6c62da09", "GatewaySMTP counts it as a junk command first"),
    "smtp_HELP": ("658586a0cbd741b7",
                  "GatewaySMTP counts it as a junk command first; it reads the"
                  " __smtp_syntax__ of the smtp_* methods, which ours keep with @syntax"),
    "_handle_client": ("0e4d096403af6c74",
                       "a handle_exception that raises CancelledError (at the end of a"
                       " half-closed session) ends this loop; its finally then pushes None,"
                       " which GatewaySMTP.push ignores; its call limit is not used, since"
                       " it never resets: GatewaySMTP counts errors and junk commands"),
    "_set_post_data_state": ("1dc8a8abca2a8164",
                             "it starts each new envelope (also for _set_rset_state):"
                             " GatewaySMTP ends the handler's Transaction there"),
    "_set_rset_state": ("9ff64b71daa68e63",
                        "RSET, HELO, EHLO and connection_made reset through"
                        " _set_post_data_state, which ends the Transaction"),
    "_reset_timeout": ("fef19b94d28dff31",
                       "it replaces self._timeout_handle: GatewaySMTP calls it for the"
                       " final reply's ten minutes while the DATA hook runs and again after"
                       " DATA"),
    "_timeout_cb": ("10a7351f9bec2818",
                    "GatewaySMTP._timeout_cb writes a 421 before this closes the transport"),
    "push": ("15f4f1de5e30c337",
             "GatewaySMTP.push rewrites every reply (enhanced status codes) before this"
             " writes it, and holds a multi-line reply's lines to pass them in one call;"
             " GatewayLMTP.push repeats DATA's final reply once for each recipient"),
    "connection_made": ("77a45df5065bba34",
                        "GatewaySMTP refuses a connection over the limits before calling it,"
                        " and tells a new connection from STARTTLS by self.transaction"),
    "connection_lost": ("d3bf6349bc3c25c1",
                        "GatewaySMTP skips it for refused connections and releases its"
                        " limits slot first"),
    "eof_received": ("baab5aaf93160933",
                     "it cancels the session at once: GatewaySMTP calls it (and closes the"
                     " transport) only over TLS; otherwise it feeds EOF to the reader itself"
                     " so that what the client sent before is answered"),
    "handle_exception": ("33be80d97d2d75ee",
                         "GatewaySMTP answers TLSSetupException itself and ends the session"
                         " at IncompleteReadError (EOF), then defers to it"),
}


def _source_hash(name: str) -> str:
    return hashlib.sha256(inspect.getsource(getattr(SMTP, name)).encode()).hexdigest()[:16]


def test_every_override_of_aiosmtpd_is_listed_here() -> None:
    overridden = {name for name, value in vars(GatewaySMTP).items()
                  if inspect.isfunction(value) and name in vars(SMTP)}
    assert overridden <= RELIED_ON.keys(), (
        f"GatewaySMTP overrides {sorted(overridden - RELIED_ON.keys())} of aiosmtpd's SMTP:"
        " add them to RELIED_ON with what casegate relies on")


@pytest.mark.parametrize("name", sorted(RELIED_ON))
def test_overridden_methods_keep_their_parameters(name: str) -> None:
    ours = getattr(GatewaySMTP, name)
    if name == "__init__" or ours is getattr(SMTP, name):
        return  # our __init__ passes **kwargs on; a method not overridden has none of ours
    theirs = inspect.signature(getattr(SMTP, name)).parameters
    assert list(inspect.signature(ours).parameters) == list(theirs), (
        f"aiosmtpd's SMTP.{name} now takes {list(theirs)}: re-check {RELIED_ON[name][1]}")


@pytest.mark.parametrize("name", sorted(RELIED_ON))
def test_aiosmtpd_internals_are_the_ones_checked(name: str) -> None:
    recorded, relied_on = RELIED_ON[name]
    assert _source_hash(name) == recorded, (
        f"aiosmtpd's SMTP.{name} changed (source hash {_source_hash(name)}): re-check that"
        f" {relied_on}; then record the new hash here and the version in pyproject.toml")
