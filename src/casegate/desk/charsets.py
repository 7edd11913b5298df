"""Reading a message's bytes as text when its charset is missing, unknown or wrong.

Old mail often says one charset and is written in another: "us-ascii" carrying 8-bit text,
"utf-8" carrying windows-1252, Hebrew in windows-1255 sent as iso-8859-1, names such as
"x-unknown". :func:`decode_text` tries the declared charset, then UTF-8, then the charsets
the rest of the message was read in, then charset-normalizer's detection, and only then
keeps what no charset reads as U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from charset_normalizer import from_bytes

# The charsets mail has been written in, the likeliest first: a guess among them names the
# first that reads the bytes to the same text (windows-1252 rather than windows-1250 for "café").
_MAIL_CHARSETS = ("cp1252", "iso8859-15", "cp1250", "iso8859-2", "cp1251", "koi8-r", "koi8-u",
                  "cp1253", "cp1254", "cp1255", "iso8859-8", "cp1256", "cp1257", "cp1258",
                  "cp874", "shift_jis", "euc_jp", "iso2022_jp", "gb18030", "big5", "euc_kr")
# Latin charsets read any byte, so success says nothing: Hebrew or Cyrillic sent as
# iso-8859-1 reads as words made only of accented letters ("ùìåí"), which no Latin language has.
_LATIN_CHARSETS = frozenset({"iso8859-1", "iso8859-15", "cp1252"})
# Python codecs that are no charset a message could be written in.
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape",
                           "undefined", "charmap"})
_LETTERS = re.compile(r"[^\W\d_]+")
_NON_ASCII = re.compile("[^\x00-\x7f]")


class Decoded(NamedTuple):
    text: str
    charset: str  # the charset that read it, as mail names it
    replaced: bool = False  # what no charset could read is U+FFFD

    def read_as(self) -> str:
        return self.charset + (" with unreadable bytes as U+FFFD" if self.replaced else "")


@lru_cache(maxsize=256)
def codec_of(charset: str) -> str | None:
    """Python's codec for a charset name, or None when Python has none for it."""
    try:
        name = codecs.lookup(charset).name
        b"x".decode(name)  # refuses codecs that do not turn bytes into text, such as base64
    except UnicodeError:  # a text codec, only not for this byte
        pass
    except (LookupError, ValueError):
        return None
    return None if name in _NOT_CHARSETS else name


def _mime_name(codec: str) -> str:
    """A Python codec's name as mail spells it: windows-1252, iso-8859-1, shift-jis."""
    name = re.sub(r"^cp(125\d)$", r"windows-\1", codec.replace("_", "-"))
    return "us-ascii" if name == "ascii" else re.sub(r"^iso(8859|2022)", r"iso-\1", name)


def is_latin(charset: str) -> bool:
    """Whether ``charset`` reads any byte as a Latin letter or sign."""
    return codec_of(charset) in _LATIN_CHARSETS


def reads_as_another_script(text: str) -> bool:
    """Whether text read in a Latin charset is mostly words without a single ASCII letter."""
    accented = [word for word in _LETTERS.findall(text) if not word.isascii()]
    foreign = [word for word in accented if len(word) > 1 and not _NON_ASCII.sub("", word)]
    return len(foreign) * 2 >= len(accented) > 0


def _read(data: bytes, codec: str) -> Decoded | None:
    """``data`` in ``codec``; None when that cannot read it, or reads another script as Latin."""
    try:
        text = data.decode(codec)
    except UnicodeError:
        return None
    if codec in _LATIN_CHARSETS and not data.isascii() and reads_as_another_script(text):
        return None
    return Decoded(text, _mime_name(codec))


def _preference(codec: str) -> int:
    return _MAIL_CHARSETS.index(codec) if codec in _MAIL_CHARSETS else len(_MAIL_CHARSETS)


def _detected(data: bytes) -> Decoded | None:
    """The reading charset-normalizer finds among the mail charsets, or None.

    Of the charsets that read the bytes equally well, the likeliest in mail is named.
    """
    matches = from_bytes(data, cp_isolation=list(_MAIL_CHARSETS))
    best = matches.best()
    if best is None:
        return None
    readings = [(match, codecs.lookup(name).name) for match in matches
                if (match.chaos, match.coherence) == (best.chaos, best.coherence)
                for name in match.could_be_from_charset]
    match, codec = min(readings, key=lambda reading: _preference(reading[1]))
    return Decoded(str(match), _mime_name(codec))


def decode_text(data: bytes, declared: str | None, likely: Iterable[str] = ()) -> Decoded:
    """``data`` as text, and the charset that read it.

    The declared charset first (US-ASCII when none is, as RFC 2045 says); when it cannot read
    the bytes, is unknown, or is a Latin one that reads them as another script: strict UTF-8,
    then each ``likely`` charset (those the rest of the message was read in: a short header
    tells too little to detect its charset), then the charset charset-normalizer detects, and
    only then the declared charset (UTF-8 when unknown) with what it cannot read as U+FFFD.
    """
    codec = codec_of(declared or "us-ascii")
    candidates = [codec, "utf-8", *(codec_of(charset) for charset in likely)]
    for candidate in dict.fromkeys(c for c in candidates if c is not None):
        if (decoded := _read(data, candidate)) is not None:
            return decoded
    fallback = codec or "utf-8"
    return _detected(data) or Decoded(data.decode(fallback, errors="replace"),
                                      _mime_name(fallback), replaced=True)


def charset_note(what: str, declared: str | None, decoded: Decoded) -> str:
    """The problem to note when ``decoded`` was not read as ``declared`` says ("" if it was)."""
    codec = codec_of(declared or "us-ascii")
    if codec is not None and decoded.charset == _mime_name(codec) and not decoded.replaced:
        return ""
    if not declared:
        why = "no charset declared"
    elif codec is None:
        why = f"unknown charset {declared}"
    else:
        why = f"not {declared} as declared"
    return f"{what}: {why}; read as {decoded.read_as()}"
