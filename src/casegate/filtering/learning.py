"""Teaching the spam filter from people's decisions: mail released from quarantine as not
spam is learnt as ham; a "mark as spam" action calls :func:`teach` with ``spam=True``.

rspamd learns through its controller (CASEGATE_RSPAMD_CONTROLLER_URL, ``POST /learnham`` or
``/learnspam``, with CASEGATE_RSPAMD_PASSWORD when set). A decision stands whether or not the
filter could learn from it: failures are logged, never raised.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request

from casegate.config import get_config

log = logging.getLogger("casegate.filtering")

LEARN_TIMEOUT = 10.0  # seconds; a person is waiting for the release to finish


def teach(raw: bytes, spam: bool) -> None:
    """Tell the filter this message is spam (``spam=True``) or not; nothing without a
    controller URL."""
    config = get_config()
    if not config.rspamd_controller_url:
        return
    endpoint = "learnspam" if spam else "learnham"
    request = urllib.request.Request(f"{config.rspamd_controller_url}/{endpoint}", data=raw,
                                     method="POST")
    if config.rspamd_password:
        request.add_header("Password", config.rspamd_password)
    try:
        with urllib.request.urlopen(request, timeout=LEARN_TIMEOUT) as response:
            answer = response.read(500).decode(errors="replace")
            # 208 (already learnt) is a success too: the filter knows what we wanted
            log.info("classifier=rspamd learn=%s status=%s answer=%s", endpoint, response.status,
                     answer.strip())
    except urllib.error.HTTPError as exc:
        log.warning("classifier=rspamd learn=%s status=%s answer=%s", endpoint, exc.code,
                    exc.read(500).decode(errors="replace").strip())
    except (OSError, ValueError, http.client.HTTPException) as exc:
        log.warning("classifier=rspamd learn=%s failed=%r", endpoint,
                    str(exc) or type(exc).__name__)
