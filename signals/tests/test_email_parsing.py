"""Parsing and stripping inbound e-mail: quoted history, signatures, HTML, Message-IDs, bounces."""

from __future__ import annotations

from anymail.inbound import AnymailInboundMessage

from signals.autoreply import detect_auto_reply, is_delivery_status_notification
from signals.inbound.message import InboundEmail, parse_message_ids, parse_raw_mime
from signals.inbound.text import html_to_text, reply_text_of, strip_reply


def test_strips_english_quote_and_signature():
    text = (
        "Sounds good, let's talk Tuesday.\n\nBest,\nAnna Smith\nVP Sales, Acme\n\n"
        "On Mon, Mar 3, 2025 at 10:00 AM Bob <bob@salesai.example> wrote:\n> Hi Anna,\n> 15 minutes?\n"
    )
    assert strip_reply(text) == "Sounds good, let's talk Tuesday."


def test_strips_german_and_french_reply_headers():
    assert strip_reply("Gerne, passt Dienstag.\n\nAm 03.03.2025 um 10:00 schrieb Bob <bob@x.com>:\n> Hallo") == (
        "Gerne, passt Dienstag."
    )
    assert strip_reply("Oui, volontiers.\n\nLe lun. 3 mars 2025 à 10:00, Bob <bob@x.com> a écrit :\n> Bonjour") == (
        "Oui, volontiers."
    )


def test_strips_outlook_original_message_block():
    text = "No thanks.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\nTo: Anna\nSubject: hi\n\nHello Anna"
    assert strip_reply(text) == "No thanks."


def test_a_reply_that_is_only_quotes_is_empty():
    assert strip_reply("> just the quote\n> nothing else") == ""
    assert strip_reply("") == ""


def test_html_to_text_drops_quoted_blocks_and_styles():
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Yes&nbsp;please!</p>"
        "<div class='gmail_quote'>On Mon Bob wrote:<blockquote>old</blockquote></div></body></html>"
    )
    assert html_to_text(html) == "Yes please!"
    assert html_to_text("<div>Keep this</div><hr><div>From: Bob<br>Sent: Monday</div>") == "Keep this"
    assert html_to_text("<p>broken <b>html") == "broken html"


def test_reply_text_prefers_plain_then_html_then_provider_stripped_text():
    email = InboundEmail(provider="mailgun", from_email="a@b.com", text="", html="<p>From HTML</p>")
    assert reply_text_of(email) == "From HTML"
    email = InboundEmail(provider="mailgun", from_email="a@b.com", text="> only quoted", provider_stripped_text="Hi!")
    assert reply_text_of(email) == "Hi!"


def test_message_ids():
    assert parse_message_ids("<a@b> <c@d>") == ["<a@b>", "<c@d>"]
    assert parse_message_ids("a@b") == ["<a@b>"]
    assert parse_message_ids("") == [] and parse_message_ids("not an id") == []


def test_parse_raw_mime_with_anymail_constructed_message():
    message = AnymailInboundMessage.construct(
        from_email="Jane Doe <Jane@Acme.com>",
        to="rep@salesai.example",
        subject="Re: hi",
        headers={
            "Message-ID": "<m1@acme.com>",
            "In-Reply-To": "<o1@salesai.example>",
            "Date": "Thu, 26 Nov 2026 10:00:00 +0100",
        },
        text="Yes!\n\nOn Thu, Bob wrote:\n> hi",
    )
    email = parse_raw_mime(message.as_string())
    assert (email.from_email, email.from_name) == ("jane@acme.com", "Jane Doe")
    assert email.message_id == "<m1@acme.com>" and email.in_reply_to == "<o1@salesai.example>"
    assert email.date.isoformat() == "2026-11-26T09:00:00+00:00"
    assert reply_text_of(email) == "Yes!"


def test_delivery_status_notifications():
    assert is_delivery_status_notification(
        headers={"Content-Type": "multipart/report; report-type=delivery-status; boundary=x"}
    )
    assert is_delivery_status_notification(from_address="MAILER-DAEMON@mx.example.com", subject="Undelivered Mail")
    assert is_delivery_status_notification(
        from_address="postmaster@x.com", subject="Delivery Status Notification (Failure)"
    )
    assert not is_delivery_status_notification(from_address="jane@acme.com", subject="Re: Undelivered pizza")
    assert not is_delivery_status_notification(
        headers={"Content-Type": "multipart/report; report-type=disposition-notification"}
    )


def test_auto_reply_detection_reports_no_reason_for_humans():
    verdict = detect_auto_reply(headers={"From": "jane@acme.com"}, subject="Re: Quick question", text="Sure, Tuesday?")
    assert not verdict and verdict.reason == ""
