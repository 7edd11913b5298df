"""Old mail on disk, as ``casegate import`` finds it: an mbox file, a Maildir, a message file
(``.eml``) or a folder of them.

Each message found is read twice: once for its ``Date:`` (so the whole import is filed in
date order) and once to be imported, so an import of any size holds one message in memory
at a time. A message is known by a digest of its bytes that ignores what the formats change
(line endings, mbox's ``>From`` quoting, blank lines at the end), so the same message read
from an mbox, a Maildir and a file is one message.
"""

from __future__ import annotations

import hashlib
import mailbox
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from casegate.errors import CasegateError
from casegate.mail.headers import HeaderFields, dated

# The first line of a message is a header field: a name of printable characters but the
# colon, then a colon.
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_LINE_END = re.compile(rb"\r\n|\r|\n")
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
MESSAGE_FILE_SUFFIX = ".eml"


class NotMail(CasegateError):
    """A path that is none of the formats ``casegate import`` reads."""


class Broken(Exception):
    """A message that cannot be imported; ``str(error)`` says why."""


@dataclass(frozen=True)
class Found:
    """One message in the paths: ``where`` names it in reports; ``read`` returns its bytes
    (raises :class:`Broken`); ``date`` is its ``Date:`` (None: none that can be read);
    ``order``: its place in the paths, as given."""

    where: str
    read: Callable[[], bytes]
    date: datetime | None
    order: int


def kind_of(path: Path) -> str:
    """``mbox``, ``maildir``, ``message`` or ``folder`` (of message files), or
    :class:`NotMail` saying what ``path`` is instead."""
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            return "maildir"
        if any(_message_files(path)):
            return "folder"
        raise NotMail(f"{path}: a folder that is not a Maildir (no cur/ and new/) and holds"
                      f" no {MESSAGE_FILE_SUFFIX} files")
    if not path.exists():
        raise NotMail(f"{path}: no such file or folder")
    try:
        with path.open("rb") as file:
            start = file.read(1000)
    except OSError as exc:
        raise NotMail(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if path.suffix.lower() == MESSAGE_FILE_SUFFIX:
        return "message"
    if start.startswith(b"From ") or not start:  # an empty file: a folder emptied
        return "mbox"
    if looks_like_mail(start):
        return "message"
    raise NotMail(f"{path}: neither an mbox (which starts with a 'From ' line) nor a message"
                  " (which starts with header fields)")


def looks_like_mail(content: bytes) -> bool:
    return _FIELD.match(content) is not None


def found_in(paths: list[Path]) -> Iterator[Found]:
    """Every message in ``paths``, in the order given (each path's kind checked first, so a
    wrong one stops the import before anything is read)."""
    kinds = [(path, kind_of(path)) for path in paths]
    order = 0
    for path, kind in kinds:
        for where, read in _messages(path, kind):
            try:
                date = dated(HeaderFields(read()))
            except Broken:
                date = None
            yield Found(where, read, date, order)
            order += 1


def in_date_order(found: list[Found]) -> list[Found]:
    """Oldest first; messages without a readable date last, in the order found."""
    return sorted(found, key=lambda f: (f.date is None, f.date.timestamp() if f.date else 0,
                                        f.order))


def _messages(path: Path, kind: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    if kind == "mbox":
        box: mailbox.Mailbox[mailbox.Message] = mailbox.mbox(path, create=False)
    elif kind == "maildir":
        box = mailbox.Maildir(path, factory=None, create=False)
    else:
        files = [path] if kind == "message" else sorted(_message_files(path))
        for file in files:
            yield str(file), partial(_read_file, file)
        return
    for number, key in enumerate(box.iterkeys(), start=1):
        where = f"{path} message {number}" if kind == "mbox" else f"{path} {key}"
        yield where, partial(_read_from, box, key)


def _message_files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*")
            if p.suffix.lower() == MESSAGE_FILE_SUFFIX and p.is_file())


def _read_file(file: Path) -> bytes:
    try:
        return _checked(file.read_bytes())
    except OSError as exc:
        raise Broken(f"cannot be read: {exc.strerror or exc}") from None


def _read_from(box: mailbox.Mailbox[mailbox.Message], key: str) -> bytes:
    try:
        return _checked(box.get_bytes(key))
    except (OSError, KeyError) as exc:
        raise Broken(f"cannot be read: {exc}") from None


def _checked(content: bytes) -> bytes:
    if content.startswith(b"From "):  # a message saved with the envelope line of its mbox
        content = _LINE_END.split(content, maxsplit=1)[-1]
    if not content.strip():
        raise Broken("empty")
    if not looks_like_mail(content):
        raise Broken("not a message: it does not start with header fields")
    return content


def _with_lf(content: bytes) -> bytes:
    return content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def with_crlf(content: bytes) -> bytes:
    """``content`` with every line ending CRLF, as mail is stored."""
    return _with_lf(content).replace(b"\n", b"\r\n")


def origin_of(content: bytes) -> str:
    """What makes the message the same wherever it was read from (see the module)."""
    canonical = _with_lf(content)
    if b">From " in canonical:
        canonical = _QUOTED_FROM.sub(rb"\1", canonical)
    return "import:" + hashlib.sha256(canonical.rstrip(b"\n")).hexdigest()
