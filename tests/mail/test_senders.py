from hypothesis import given, settings
from hypothesis import strategies as st

from casegate.mail.senders import _PLAIN_FROM, Sender, parse_from, read_from

_atom = st.text("abcXYZ019_+=-'.", min_size=1, max_size=6)
_word = st.text("AbZ09_'-", min_size=1, max_size=6)
_space = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def from_fields(draw: st.DrawFn) -> str:
    """Fields of the plain shapes, and a little past them (dots, quotes, a lone bracket)."""
    address = f"{draw(_atom)}@{draw(_atom)}.{draw(st.sampled_from(['com', 'example', 'x-y']))}"
    name = " ".join(draw(st.lists(_word, max_size=3)))
    shown = draw(st.sampled_from(["{a}", "<{a}>", "{n} <{a}>", "{n}<{a}>", '"{n}" <{a}>',
                                  "{n} <{a}", "{a} ({n})"]))
    return draw(_space) + shown.format(a=address, n=name) + draw(_space)


@settings(max_examples=500)
@given(from_fields())
def test_a_from_field_reads_as_the_email_package_reads_it(value: str) -> None:
    assert read_from([value]) == parse_from([value])


def test_the_common_shapes_are_read_without_the_parser() -> None:
    for value in ("Ann Lee <Ann@Example.com>", "ann@example.com", "<ann@example.com>"):
        assert _PLAIN_FROM.fullmatch(value)
    assert read_from(["Ann Lee <Ann@Example.com>"]) == Sender("ann@example.com", "Ann Lee")
    assert read_from(["ann@example.com"]) == Sender("ann@example.com", "")
