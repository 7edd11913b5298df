"""decode_text: the declared charset, then UTF-8, the likely ones, detection, and U+FFFD last."""

from __future__ import annotations

import pytest

from casegate.desk.charsets import Decoded, charset_note, codec_of, decode_text

FRENCH = ("Bonjour,\n\nLe panneau solaire que j'ai acheté en février ne charge plus depuis la "
          "tempête de mardi. Pourriez-vous m'envoyer un technicien ?\n\nHélène Dupré\n")
HEBREW = "שלום, הפאנל שלי הפסיק לטעון אתמול בערב. אפשר לשלוח טכנאי? תודה, דנה\n"
RUSSIAN = "Здравствуйте! Панель перестала заряжаться после грозы во вторник. Спасибо.\n"
GARBAGE = b"Report: " + bytes(range(128, 256)) * 2 + b" end"


def test_text_in_its_declared_charset_is_read_in_it() -> None:
    assert decode_text(FRENCH.encode("iso-8859-1"), "iso-8859-1") == Decoded(FRENCH, "iso-8859-1")
    assert decode_text(RUSSIAN.encode("koi8-r"), "KOI8-R") == Decoded(RUSSIAN, "koi8-r")


def test_ascii_without_a_charset_is_us_ascii() -> None:
    assert decode_text(b"plain words\n", None) == Decoded("plain words\n", "us-ascii")


@pytest.mark.parametrize("declared", ["us-ascii", None, "x-unknown", "base64"])
def test_utf8_comes_before_any_guess(declared: str | None) -> None:
    assert decode_text(FRENCH.encode(), declared) == Decoded(FRENCH, "utf-8")


@pytest.mark.parametrize("declared", ["us-ascii", "utf-8", None, "x-unknown"])
def test_windows_1252_sent_as_something_else_is_detected(declared: str | None) -> None:
    assert decode_text(FRENCH.encode("cp1252"), declared) == Decoded(FRENCH, "windows-1252")


def test_hebrew_sent_as_iso_8859_1_is_read_as_hebrew() -> None:
    assert decode_text(HEBREW.encode("cp1255"), "iso-8859-1") == Decoded(HEBREW, "windows-1255")


def test_cyrillic_sent_as_windows_1252_is_read_as_cyrillic() -> None:
    assert decode_text(RUSSIAN.encode("cp1251"), "windows-1252").text == RUSSIAN


def test_a_likely_charset_reads_what_is_too_short_to_detect() -> None:
    short = "תודה רבה"
    assert decode_text(short.encode("cp1255"), "iso-8859-1", likely=["windows-1255"]) == Decoded(
        short, "windows-1255")


def test_what_no_charset_reads_is_kept_with_replacement_characters() -> None:
    decoded = decode_text(GARBAGE, "utf-8")
    assert decoded.replaced and decoded.charset == "utf-8"
    assert decoded.text.startswith("Report: \ufffd") and decoded.text.endswith("\ufffd end")


@pytest.mark.parametrize("name", ["x-unknown", "base64", "rot13", "idna", "unicode-escape", "",
                                  "utf-8\x00"])
def test_names_that_are_no_charset_are_unknown(name: str) -> None:
    assert codec_of(name) is None


@pytest.mark.parametrize(("declared", "decoded", "note"), [
    ("utf-8", Decoded("x", "utf-8"), ""),
    (None, Decoded("x", "us-ascii"), ""),
    ("latin1", Decoded("x", "iso-8859-1"), ""),
    (None, Decoded("é", "windows-1252"), "text/plain: no charset declared; read as windows-1252"),
    ("x-unknown", Decoded("é", "utf-8"), "text/plain: unknown charset x-unknown; read as utf-8"),
    ("us-ascii", Decoded("é", "utf-8"), "text/plain: not us-ascii as declared; read as utf-8"),
    ("utf-8", Decoded("\ufffd", "utf-8", replaced=True),
     "text/plain: not utf-8 as declared; read as utf-8 with unreadable bytes as U+FFFD"),
])
def test_a_reading_other_than_the_declared_one_is_noted(declared: str | None, decoded: Decoded,
                                                        note: str) -> None:
    assert charset_note("text/plain", declared, decoded) == note
