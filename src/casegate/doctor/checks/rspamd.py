"""rspamd, when casegate is configured to ask it: its normal worker answers /ping."""

from __future__ import annotations

import urllib.request

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus

NAME = "rspamd"
TIMEOUT = 5.0


def check(host: Host) -> Finding:
    url = host.config.rspamd_url
    if not url:
        return Finding(NAME, host.name, CheckStatus.OK,
                       "not configured (CASEGATE_RSPAMD_URL is unset)")
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=TIMEOUT) as response:
            answer = response.read(100).decode("utf-8", "replace").strip()
    except OSError as exc:
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{url} does not answer: {getattr(exc, 'reason', exc)}; mail waits"
                       f" ({host.config.rspamd_unavailable} when rspamd is away)")
    if answer != "pong":
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{url}/ping answers {answer!r}, not pong: is it rspamd's normal worker?")
    return Finding(NAME, host.name, CheckStatus.OK, f"{url} answers")
