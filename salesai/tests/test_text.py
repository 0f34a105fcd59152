"""Text that reaches a draft's subject or first line stays on one line, whatever a sender tries."""

from hypothesis import given
from hypothesis import strategies as st

from salesai.text import has_line_break, single_line


def test_line_breaks_and_controls_become_single_spaces():
    assert single_line("Acme\r\nour bank details changed") == "Acme our bank details changed"
    assert single_line("Ada\u2028Lovelace\u2029") == "Ada Lovelace"
    assert single_line("\x00Bob\x1b[31m  Smith\t") == "Bob [31m Smith"


def test_bidi_overrides_are_removed():
    assert single_line("invoice\u202egpj.exe") == "invoice gpj.exe"


def test_non_strings_give_empty_text_and_length_is_capped():
    assert single_line(None) == ""
    assert single_line(42) == ""
    assert single_line("x" * 50, max_length=10) == "x" * 10


def test_has_line_break_flags_what_single_line_would_change():
    assert has_line_break("Hello\nthere")
    assert has_line_break("tab\there")
    assert not has_line_break("Renewal of Acme, 12 Dec")


@given(st.text())
def test_single_line_never_leaves_a_line_break_or_control(value):
    cleaned = single_line(value)
    assert not has_line_break(cleaned)
    assert "\n" not in cleaned and "\r" not in cleaned
    assert cleaned == cleaned.strip()
