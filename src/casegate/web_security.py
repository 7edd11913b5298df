"""Django's host, cookie and HTTPS settings, derived from where the console is reached.

``CASEGATE_CONSOLE_URL`` is the one public address of the HTTP app: only its host (and the
loopback names ``casegate serve`` listens on by default) may be named in ``Host:``, so a
forged header is refused before any view runs, and links mailed to users are built from it.
An ``https`` address means a TLS-terminating proxy sits in front of waitress (which speaks
plain HTTP): cookies are then sent over HTTPS only and browsers are told to keep to HTTPS.
"""

from __future__ import annotations

from typing import Any

from casegate.config import LOOPBACK_HOSTS, Config

HSTS_SECONDS = 365 * 24 * 3600

# Probes and the API's health check come straight to waitress in plain HTTP.
PLAIN_HTTP_PATHS = [r"^healthz$", r"^metrics$", r"^api/health$"]


def web_settings(config: Config) -> dict[str, Any]:
    """The Django settings that follow from ``config.console_url`` and ``behind_proxy``."""
    https = config.console_is_https
    chosen: dict[str, Any] = {
        "ALLOWED_HOSTS": list(dict.fromkeys([config.console_host, *LOOPBACK_HOSTS])),
        "CSRF_TRUSTED_ORIGINS": [config.console_url],
        "SESSION_COOKIE_SECURE": https,
        "CSRF_COOKIE_SECURE": https,
        # Sent only on requests Django sees as secure, that is through the proxy.
        "SECURE_HSTS_SECONDS": HSTS_SECONDS if https else 0,
        # Redirecting needs the proxy's word on the scheme, or every request would loop.
        "SECURE_SSL_REDIRECT": https and config.behind_proxy,
        "SECURE_REDIRECT_EXEMPT": PLAIN_HTTP_PATHS,
    }
    if config.behind_proxy:
        chosen["SECURE_PROXY_SSL_HEADER"] = ("HTTP_X_FORWARDED_PROTO", "https")
    return chosen
