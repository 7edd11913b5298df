"""Content-addressed storage for raw messages and attachments.

A blob is named by the SHA-256 of its bytes, so a logo sent in a hundred signatures, or the
same message arriving by two routes, is kept once. ``CASEGATE_BLOB_STORE`` picks where the
bytes live:

- ``disk`` (the default): a blob of up to :data:`INLINE_LIMIT` bytes (a typical message,
  a signature's logo) in its ``Blob`` row, which commits with the rows naming it; a larger
  one in ``CASEGATE_HOME/blobs/ab/abcd…``, written to a temporary file, flushed to disk and
  renamed into place before those rows commit (one flush of the filesystem per batch, not
  one per file). A file costs a create, a rename and a share of two filesystem flushes,
  which for a 4 KB message is more than the whole row's write;
- ``database``: in the ``Blob`` row itself. Use it when gateway and worker processes on
  several hosts share one PostgreSQL and no shared filesystem.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from django.db import transaction

from casegate.config import get_config
from casegate.desk.models import Attachment, Blob, DeskMessage
from casegate.durable import filesystem_flusher
from casegate.errors import CasegateError

# Blobs up to this size stay in the database in the disk store too.
INLINE_LIMIT = 64 * 1024


class BlobMissing(CasegateError):
    """A blob's row exists but its bytes cannot be read."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_kind() -> str:
    return get_config().blob_store


def blob_root() -> Path:
    return get_config().home / "blobs"


def path_of(sha256: str) -> Path:
    """Where the blob ``sha256`` lives in the disk store."""
    return blob_root() / sha256[:2] / sha256


def _write_files(contents: dict[str, bytes]) -> None:
    """Write blobs not on disk yet: temporary files, one flush, renames, one flush."""
    root = blob_root()
    root.mkdir(parents=True, exist_ok=True)
    renames: list[tuple[Path, Path]] = []
    with filesystem_flusher(root) as flush:
        try:
            for sha256, data in contents.items():
                final = path_of(sha256)
                if final.exists():
                    continue
                final.parent.mkdir(parents=True, exist_ok=True)
                temporary = final.with_name(f".{sha256}.{os.getpid()}.tmp")
                renames.append((temporary, final))
                temporary.write_bytes(data)
            if renames:
                flush()
        except BaseException:
            for temporary, _final in renames:
                temporary.unlink(missing_ok=True)
            raise
        if not renames:
            return
        for temporary, final in renames:
            os.replace(temporary, final)
        flush()


def goes_to_file(data: bytes) -> bool:
    """Whether the store keeps ``data`` in a file of its own rather than in its row."""
    return store_kind() != "database" and len(data) > INLINE_LIMIT


def put_many(contents: Iterable[bytes]) -> list[str]:
    """Store each content (once per distinct digest); returns their digests in order.

    Call inside the transaction that records what refers to them: on disk the files are
    durable before it commits, in the database they commit with it.
    """
    contents = list(contents)
    digests = [digest(data) for data in contents]
    unique = dict(zip(digests, contents, strict=True))
    if not unique:
        return digests
    known = set(Blob.objects.filter(sha256__in=list(unique)).values_list("sha256", flat=True))
    missing = {sha: data for sha, data in unique.items() if sha not in known}
    on_disk = {sha: data for sha, data in missing.items() if goes_to_file(data)}
    if on_disk:
        _write_files(on_disk)
    Blob.objects.bulk_create(
        [Blob(sha256=sha, size=len(data), data=None if sha in on_disk else data)
         for sha, data in missing.items()],
        ignore_conflicts=True,
    )
    return digests


def read(blob: Blob) -> bytes:
    if blob.data is not None:
        return bytes(blob.data)
    try:
        return path_of(blob.sha256).read_bytes()
    except OSError as exc:
        raise BlobMissing(f"blob {blob.sha256} is not in {blob_root()}: {exc.strerror}") from None


def discard_unused(sha256s: Iterable[str]) -> None:
    """Remove the blobs among ``sha256s`` that no message or attachment refers to any more;
    their files go once the transaction commits. Only for blobs no arriving mail can share
    at the same moment (a test message's, whose bytes are unique)."""
    wanted = set(sha256s)
    used = set(DeskMessage.objects.filter(raw_id__in=wanted).values_list("raw_id", flat=True))
    used |= set(Attachment.objects.filter(blob_id__in=wanted).values_list("blob_id", flat=True))
    unused = wanted - used
    Blob.objects.filter(sha256__in=unused).delete()

    def remove_files() -> None:
        for sha256 in unused:
            path_of(sha256).unlink(missing_ok=True)

    transaction.on_commit(remove_files)
