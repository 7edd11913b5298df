"""A stored message's or attachment's bytes as an HTTP answer the browser saves and never
runs: the console and the API serve downloads through here."""

from __future__ import annotations

import re
from urllib.parse import quote

from django.http import HttpResponse

from casegate.desk import blobs
from casegate.desk.models import Blob

_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_UNSAFE_IN_NAME = re.compile(r'[/\\"%]')

# Raster images a browser shows without running anything; SVG (a document that can hold
# scripts) is never among them.
PREVIEWED_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def media_type_of(declared: str) -> str:
    media_type = declared.strip().lower()
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else "application/octet-stream"


def content_disposition(filename: str, fallback: str, inline: bool = False) -> str:
    """``attachment`` (or ``inline``) with the file name made safe: no controls,
    separators or quotes."""
    name = "".join(ch for ch in filename if ch.isprintable())
    name = _UNSAFE_IN_NAME.sub("_", name).strip(" .")[:200] or fallback
    plain = name.encode("ascii", "replace").decode().replace("?", "_")
    encoded = quote(name.encode("utf-8", "replace"), safe="")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


def blob_response(blob: Blob, declared_type: str, filename: str, fallback: str,
                  inline: bool = False) -> HttpResponse:
    """The blob's bytes; ``inline`` only takes effect for a previewed image type.

    Raises :class:`casegate.desk.blobs.BlobMissing` when the bytes cannot be read."""
    data = blobs.read(blob)
    media_type = media_type_of(declared_type)
    response = HttpResponse(data, content_type=media_type)
    response["Content-Disposition"] = content_disposition(
        filename, fallback, inline=inline and media_type in PREVIEWED_IMAGES)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
