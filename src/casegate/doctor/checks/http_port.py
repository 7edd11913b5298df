"""The HTTP port: the console, the REST API and /metrics answer at CASEGATE_CONSOLE_URL
(or doctor's --http)."""

from __future__ import annotations

import urllib.error
import urllib.request

from casegate.doctor.base import Finding, Host
from casegate.doctor.vocabulary import CheckStatus
from casegate.outbound_tls.trust import verifying_context

NAME = "HTTP port"
TIMEOUT = 5.0


def check(host: Host) -> Finding:
    request = urllib.request.Request(f"{host.http_url}/console/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT,
                                    context=verifying_context()) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # any HTTP answer shows the app is there
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Finding(NAME, host.name, CheckStatus.FAILING,
                       f"{host.http_url} does not answer: {reason} (is casegate serve running"
                       " with --http, and CASEGATE_CONSOLE_URL its address?)")
    return Finding(NAME, host.name, CheckStatus.OK, f"{host.http_url} answers (HTTP {status})")
