"""The certificate authorities casegate trusts when it verifies a certificate."""

from __future__ import annotations

import ssl

from casegate.config import get_config


def verifying_context() -> ssl.SSLContext:
    """A client context that verifies the peer's certificate and name against
    ``CASEGATE_TLS_CA_FILE`` (a PEM bundle), else the system's authorities."""
    return ssl.create_default_context(cafile=get_config().tls_ca_file)


def unverified_context() -> ssl.SSLContext:
    """Opportunistic TLS (Postfix's ``may``): encrypted, the certificate not checked."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def names_cover(names: list[str], host: str) -> bool:
    """Whether a certificate naming ``names`` (DNS names; ``*.`` only as the whole left-most
    label, RFC 6125) is valid for ``host``."""
    from checkdmarc.mta_sts import mx_in_mta_sts_patterns  # the same wildcard rule

    return mx_in_mta_sts_patterns(host.rstrip(".").lower(), [n.lower() for n in names])
