"""Abuse tests of the inbound e-mail surface (issue 13): what a forged sender can no longer do.

Finding 5: an inbound e-mail's sender was never checked, so a forged "unsubscribe" marked a real
contact do-not-contact and a forged referral created a contact at any domain. Finding 3 (inbound
side): an RFC 2047 encoded Subject or name decoded to line breaks that ended up as lines of a
draft. Finding 11 (reply stripping): a 2 MB body was de-quoted whole before being cut to 20k.

Each forged case sits beside the genuine one that must keep working, in the providers' real formats
(SendGrid Inbound Parse form fields, Mailgun route posts, raw MIME) through the test client.
"""

from __future__ import annotations

import time

import pytest

from signals.inbound import MAX_TEXT_CHARS, InboundEmail, reply_text_of

# --- finding 11: a huge body is cut before quotes are looked for ---------------------------------------------


def _cpu_seconds(email: InboundEmail) -> tuple[float, str]:
    start = time.process_time()
    text = reply_text_of(email)
    return time.process_time() - start, text


@pytest.mark.parametrize("part", ["text", "html"])
def test_huge_body_is_cut_before_stripping(part):
    """2 MB used to cost about 2 s of CPU (the reply parser read all of it); cut first it is
    a few milliseconds. The bound leaves a wide margin for a busy machine."""
    reply = "Thanks, interested - can we talk Tuesday?"
    filler = "a sentence of ordinary words in a long reply body.\n" * 40_000
    body = reply + "\n\n" + filler if part == "text" else f"<div>{reply}</div>" + f"<p>{filler}</p>"
    email = InboundEmail(provider="sendgrid", from_email="jane@acme.com", **{part: body[:2_000_000]})
    seconds, text = _cpu_seconds(email)
    assert text.startswith(reply) and len(text) <= MAX_TEXT_CHARS
    assert seconds < 0.5, f"{seconds:.2f} s of CPU for a 2 MB body"


def test_reply_behind_a_huge_invisible_html_head_is_still_found():
    html = "<html><head><style>" + ".x{color:red}\n" * 100_000 + "</style></head><body>Yes, Tuesday works.</body>"
    assert reply_text_of(InboundEmail(provider="sendgrid", from_email="jane@acme.com", html=html)) == (
        "Yes, Tuesday works."
    )
