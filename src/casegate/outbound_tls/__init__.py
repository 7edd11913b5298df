"""Outbound TLS that cannot be stripped: a recipient domain's MTA-STS policy (RFC 8461),
DANE TLSA records of its MX hosts (RFC 7672), and the certificate authorities casegate
trusts when it verifies a certificate (``CASEGATE_TLS_CA_FILE``, else the system's).

Every DNS question goes through :mod:`casegate.nameservers`; MTA-STS policies are fetched
over HTTPS with certificates verified and kept for their ``max_age``.
"""
