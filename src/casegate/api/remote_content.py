"""Mail HTML without what a reader's client would fetch from elsewhere.

A remote image (a tracking pixel, most often) tells its sender when and where the mail was
read, so the API removes it unless the caller asks for remote content, as the console's
Content-Security-Policy blocks it. What nh3 keeps of a message (``sanitize_html``) is
passed through unchanged, but for the attributes that load something.
"""

from __future__ import annotations

import re
from typing import Any

import nh3

# Attributes this pass keeps: nh3's defaults, which ``sanitize_html`` keeps, plus the ones
# that load images (they are filtered below) and the links' ``rel``, left as it was.
_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES["a"] = _ATTRIBUTES.get("a", set()) | {"rel"}
_ATTRIBUTES["img"] = _ATTRIBUTES.get("img", set()) | {"srcset"}
_ATTRIBUTES["*"] = {"style", "background"}
_URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid", "data"}

_LOCAL_SCHEMES = ("cid:", "data:")  # a part of the message itself
# Whatever in CSS can fetch: url() and image-set() (an escape could spell either).
_CSS_FETCH = re.compile(r"url\s*\(|image-set\s*\(|@import|\\", re.IGNORECASE)


def _is_local(url: str) -> bool:
    return url.strip().lower().startswith(_LOCAL_SCHEMES)


def _fetches_remote(attribute: str, value: str) -> bool:
    if attribute == "style":
        return bool(_CSS_FETCH.search(value))
    if attribute == "srcset":
        return not all(_is_local(candidate.split()[0])
                       for candidate in value.split(",") if candidate.strip())
    if attribute in ("src", "background"):
        return not _is_local(value)
    return False


def without_remote_content(html: str) -> tuple[str, bool]:
    """``html`` without remote images and styles that fetch, and whether any were there."""
    if not html:
        return html, False
    removed = False

    def keep(_element: str, attribute: str, value: str) -> str | None:
        nonlocal removed
        if _fetches_remote(attribute, value):
            removed = True
            return None
        return value

    cleaned = nh3.clean(html, attributes=_ATTRIBUTES, attribute_filter=keep, link_rel=None,
                        url_schemes=_URL_SCHEMES)
    return cleaned, removed


def as_requested(message: dict[str, Any], remote_content: bool) -> dict[str, Any]:
    """A message as the API serves it: remote content removed unless asked for."""
    if remote_content:
        return {**message, "remote_content_blocked": False}
    html, removed = without_remote_content(message["html"])
    return {**message, "html": html, "remote_content_blocked": removed}
