"""Teaching the spam filter from people's decisions: mail released from quarantine as not
spam is learnt as ham; a "mark as spam" action calls :func:`teach` with ``spam=True``.

rspamd learns through its controller (CASEGATE_RSPAMD_CONTROLLER_URL, ``POST /learnham`` or
``/learnspam``, with CASEGATE_RSPAMD_PASSWORD when set). A decision stands whether or not the
filter could learn from it: failures are logged, never raised.
"""

from __future__ import annotations

import http.client
import logging
import time
import urllib.error
import urllib.request

from casegate.config import get_config

log = logging.getLogger("casegate.filtering")

LEARN_TIMEOUT = 10.0  # seconds; a person is waiting for the release to finish
# After the controller failed to answer, the decisions of the next minute are not taught:
# releasing a thousand messages must not wait ten seconds for each.
QUIET_AFTER_FAILURE = 60.0
_failed_at: dict[str, float] = {}  # by controller URL


def teach(raw: bytes, spam: bool) -> None:
    """Tell the filter this message is spam (``spam=True``) or not; nothing without a
    controller URL, or for a minute after the controller failed to answer."""
    config = get_config()
    url = config.rspamd_controller_url
    if not url:
        return
    if time.monotonic() - _failed_at.get(url, -QUIET_AFTER_FAILURE) < QUIET_AFTER_FAILURE:
        log.info("classifier=rspamd learn=skipped reason=controller-failed within=%ds",
                 QUIET_AFTER_FAILURE)
        return
    endpoint = "learnspam" if spam else "learnham"
    request = urllib.request.Request(f"{url}/{endpoint}", data=raw, method="POST")
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
        _failed_at[url] = time.monotonic()
        log.warning("classifier=rspamd learn=%s failed=%r", endpoint,
                    str(exc) or type(exc).__name__)
    else:
        _failed_at.pop(url, None)
