"""What is kept of a refused payload: capped text, whatever the client sent."""

from __future__ import annotations

from signals.storing import QUARANTINE_MAX_CHARS, payload_text
from signals.tests.helpers import nested


def test_a_payload_nested_too_deeply_to_serialise_is_named_not_raised():
    assert payload_text(nested(50_000)) == "(not kept: a dict nested too deeply to serialise)"


def test_payloads_are_kept_as_capped_text_without_nul_characters():
    assert payload_text(b"\xff{\x00}") == "\\xff{\\x00}"
    assert payload_text({"a": "x" * (2 * QUARANTINE_MAX_CHARS)}).startswith('{"a": "xxx')
    assert len(payload_text("y" * (2 * QUARANTINE_MAX_CHARS))) == QUARANTINE_MAX_CHARS
