"""Abuse tests of the inbound e-mail surface (issue 13): what a forged sender can no longer do.

Finding 5: an inbound e-mail's sender was never checked, so a forged "unsubscribe" marked a real
contact do-not-contact and a forged referral created a contact at any domain. Finding 3 (inbound
side): an RFC 2047 encoded Subject or name decoded to line breaks that ended up as lines of a
draft. Finding 11 (reply stripping): a 2 MB body was de-quoted whole before being cut to 20k.

Each forged case sits beside the genuine one that must keep working, in the providers' real formats
(SendGrid Inbound Parse form fields, Mailgun route posts, raw MIME) through the test client.
"""

# ruff: noqa: F811 — the fixtures imported from inbound_helpers are test arguments of the same name

from __future__ import annotations

import datetime as dt
import json
import time
from email.message import EmailMessage

import pytest
import time_machine
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Contact
from accounts.tests.factories import AccountFactory, ContactFactory
from audit.models import AuditEvent
from recommendations.models import ActionType, Recommendation
from salesai.text import has_line_break
from signals.inbound.anymail import handle_anymail_inbound
from signals.inbound.message import InboundEmail
from signals.inbound.service import receive_inbound_email
from signals.inbound.text import MAX_TEXT_CHARS, reply_text_of
from signals.models import Signal
from signals.reply_facts import extract_referral
from signals.tests.inbound_helpers import (  # noqa: F401 — pytest finds the fixtures by name
    OUTREACH_ID,
    QUOTED,
    URL,
    auth,
    email_source,
    mailgun_key,
    mailgun_payload,
    outreach,
    sendgrid_payload,
    unverified,
)

pytestmark = pytest.mark.django_db

UNSUBSCRIBE = "Please remove me from your mailing list."
REFERRAL = "I'm not the right person. Please reach out to Mark Chen (mark.chen@acme.com), he runs sales ops."
NOT_OURS = "<something-else@acme.com>"  # an In-Reply-To that answers none of our e-mails


def post(client, auth, payload) -> Signal:
    response = client.post(URL, payload, **auth)
    assert response.status_code == 201, response.content
    return Signal.objects.get(pk=response.json()["id"])


def dnc(contact) -> bool:
    return Contact.objects.get(pk=contact.pk).do_not_contact


# --- finding 5: a forged unsubscribe ------------------------------------------------------------------------

FORGERIES = [
    ("no verdict at all", {"spf": "neutral", "dkim": "none"}),
    ("spf and dkim pass for the forger's own domain",
     {"spf": "pass", "envelope_from": "bounce@evil.net", "dkim": "{@evil.net : pass}"}),
    ("a look-alike signing domain", {"spf": "softfail", "dkim": "{@acme.com.evil.net : pass}"}),
    ("a failed signature of the real domain", {"spf": "fail", "dkim": "{@acme.com : fail}"}),
    ("spf pass without an envelope sender of the domain", {"spf": "pass", "envelope_from": "x@mailer.net", "dkim": ""}),
]  # fmt: skip


@pytest.mark.parametrize("verdicts", [f[1] for f in FORGERIES], ids=[f[0] for f in FORGERIES])
def test_forged_unsubscribe_does_not_mark_contact(client, auth, outreach, verdicts):
    signal = post(client, auth, sendgrid_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS, **verdicts))
    assert not dnc(outreach.contact)
    assert not AuditEvent.objects.filter(action="contact.unsubscribed").exists()
    # stored all the same, with its intent, and saying why nothing happened
    assert signal.intent == Signal.Intent.UNSUBSCRIBE and signal.contact == outreach.contact
    assert signal.properties["sender_verified"] is False
    assert signal.properties["verification"].startswith("SendGrid: SPF")
    assert signal.properties["effect_withheld"] == (
        "Unsubscribe not applied to jane@acme.com: the sender is not verified."
    )


def test_forged_unsubscribe_answer_says_the_sender_is_not_verified(client, auth, outreach):
    response = client.post(URL, unverified(text=UNSUBSCRIBE, in_reply_to=None), **auth)
    assert response.status_code == 201 and response.json()["sender_verified"] is False


def test_someone_else_in_the_thread_cannot_unsubscribe_the_recipient(client, auth, outreach):
    """Bob (unknown, unverified) answers the thread he was forwarded: Jane stays reachable."""
    signal = post(client, auth, unverified(text=UNSUBSCRIBE, sender="Bob <bob@acme.com>"))
    assert signal.contact == outreach.contact and signal.in_reply_to == outreach
    assert signal.properties["sender_verified"] is False
    assert not dnc(outreach.contact)


def test_verified_colleague_cannot_unsubscribe_the_recipient(client, auth, outreach):
    signal = post(client, auth, sendgrid_payload(text=UNSUBSCRIBE, sender="Bob <bob@acme.com>"))
    assert signal.properties["sender_verified"] is True
    assert signal.properties["effect_withheld"] == (
        "Unsubscribe not applied to jane@acme.com: it was written by bob@acme.com, not by them."
    )
    assert not dnc(outreach.contact)


def test_forged_wrong_person_and_not_interested_are_kept_but_withheld(client, auth, outreach):
    wrong = post(client, auth, unverified(text="I left the company two years ago.", in_reply_to=NOT_OURS))
    assert wrong.intent == Signal.Intent.WRONG_PERSON
    assert wrong.properties["effect_withheld"].startswith("“Wrong person” not applied to jane@acme.com")
    declined = post(
        client,
        auth,
        unverified(text="Thanks, but we're going to pass.", in_reply_to=NOT_OURS, message_id="<reply-2@acme.com>"),
    )
    assert declined.intent == Signal.Intent.NOT_INTERESTED
    assert declined.properties["effect_withheld"].startswith("“Not interested” not applied")


# --- finding 5: the genuine unsubscribe still works ---------------------------------------------------------


def test_verified_unsubscribe_marks_the_contact(client, auth, outreach):
    signal = post(client, auth, sendgrid_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS))
    assert dnc(outreach.contact)
    assert signal.properties["sender_verified"] is True and signal.properties["verification_method"] == "dkim"
    assert signal.properties["verification"] == "DKIM signature of acme.com passed (SendGrid)"
    assert "effect_withheld" not in signal.properties


def test_spf_pass_for_an_aligned_envelope_sender_verifies(client, auth, outreach):
    payload = sendgrid_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS, dkim="none", envelope_from="b@mail.acme.com")
    signal = post(client, auth, payload)
    assert signal.properties["verification"] == "SPF passed for mail.acme.com (SendGrid)"
    assert dnc(outreach.contact)


def test_reply_from_the_outreach_recipient_acts_without_a_provider_verdict(client, auth, outreach):
    """Only Jane's mailbox saw our Message-ID: her answer to it is hers even when SPF is neutral."""
    signal = post(client, auth, unverified(text=UNSUBSCRIBE + QUOTED))
    assert signal.properties["verification_method"] == "thread"
    assert signal.properties["verification"] == f"answers our e-mail {OUTREACH_ID} to jane@acme.com"
    assert dnc(outreach.contact)


def test_reply_threaded_by_references_from_the_recipient_acts(client, auth, outreach):
    payload = unverified(text=UNSUBSCRIBE, in_reply_to=None)
    payload["headers"] += f"In-Reply-To: <her-own@acme.com>\nReferences: {OUTREACH_ID} <her-own@acme.com>\n"
    signal = post(client, auth, payload)
    assert signal.properties["threaded_by"] == "references" and signal.properties["sender_verified"] is True
    assert dnc(outreach.contact)


def test_sendgrid_raw_mode_reads_the_verdict_fields(client, auth, outreach):
    message = EmailMessage()
    message["From"] = "Jane Doe <jane@acme.com>"
    message["Subject"] = "Re: Quick question"
    message["Message-ID"] = "<raw-unsub@acme.com>"
    message.set_content(UNSUBSCRIBE)
    envelope = json.dumps({"from": "jane@acme.com", "to": ["rep@salesai.example"]})
    forged = post(client, auth, {"email": message.as_string(), "envelope": envelope, "SPF": "none", "dkim": "none"})
    assert forged.properties["sender_verified"] is False and not dnc(outreach.contact)
    message.replace_header("Message-ID", "<raw-unsub-2@acme.com>")
    genuine = post(client, auth, {"email": message.as_string(), "envelope": envelope, "SPF": "pass", "dkim": "none"})
    assert genuine.properties["verification"] == "SPF passed for acme.com (SendGrid)" and dnc(outreach.contact)


# --- finding 5: a forged referral ---------------------------------------------------------------------------


def test_forged_referral_creates_no_contact(client, auth, outreach):
    signal = post(client, auth, unverified(text=REFERRAL, in_reply_to=NOT_OURS))
    assert signal.intent == Signal.Intent.REFERRAL
    assert not Contact.objects.filter(email="mark.chen@acme.com").exists()
    assert not AuditEvent.objects.filter(action__startswith="contact.").exists()
    assert signal.properties["referral"] == {
        "name": "Mark Chen",
        "email": "mark.chen@acme.com",
        "not_added": "the sender is not verified",
    }
    assert signal.properties["effect_withheld"] == (
        "jane@acme.com suggested talking to mark.chen@acme.com: not added, as the sender is not verified."
    )


def test_forged_referral_does_not_fill_in_a_known_contact(client, auth, outreach):
    known = ContactFactory(account=outreach.account, email="mark.chen@acme.com", name="", title="")
    post(client, auth, unverified(text=REFERRAL, in_reply_to=NOT_OURS))
    known.refresh_from_db()
    assert known.name == ""


def test_referral_outside_the_account_domain_becomes_a_suggestion(client, auth, outreach):
    elsewhere = AccountFactory(domain="other.com")
    known = ContactFactory(account=elsewhere, email="bob@other.com", name="")
    text = "Not me. Please talk to Bob Stone (bob@other.com), our agency handles this."
    signal = post(client, auth, sendgrid_payload(text=text))  # Jane, verified twice over
    assert signal.properties["sender_verified"] is True and signal.intent == Signal.Intent.REFERRAL
    assert signal.properties["referral"]["not_added"] == "it is outside acme.com"
    assert signal.properties["effect_withheld"] == (
        "jane@acme.com suggested talking to bob@other.com: not added, as it is outside acme.com."
    )
    assert not Contact.objects.filter(email="bob@other.com", account=outreach.account).exists()
    known.refresh_from_db()
    assert known.name == "" and known.account == elsewhere


def test_referral_to_a_free_mail_address_becomes_a_suggestion(client, auth, outreach):
    post(client, auth, sendgrid_payload(text="Not me, write to my colleague Ada Byron at ada.byron@gmail.com."))
    assert not Contact.objects.filter(email="ada.byron@gmail.com").exists()


def test_verified_outsider_in_the_thread_cannot_add_colleagues(client, auth, outreach):
    """A consultant copied on the thread is verified as herself, not as someone writing for Acme."""
    payload = sendgrid_payload(text=REFERRAL, sender="Cleo <cleo@partner.io>")
    signal = post(client, auth, payload)
    assert signal.properties["sender_verified"] is True
    assert signal.properties["referral"]["not_added"] == "cleo@partner.io does not write for acme.com"
    assert not Contact.objects.filter(email="mark.chen@acme.com").exists()


def test_verified_referral_inside_the_domain_creates_a_contact_with_origin_email(client, auth, outreach):
    signal = post(client, auth, sendgrid_payload(text=REFERRAL, in_reply_to=NOT_OURS))
    mark = Contact.objects.get(email="mark.chen@acme.com")
    assert mark.account == outreach.account and mark.name == "Mark Chen"
    assert mark.origin == Contact.Origin.EMAIL
    assert signal.properties["referral"] == {"name": "Mark Chen", "email": "mark.chen@acme.com", "contact_id": mark.pk}
    assert "effect_withheld" not in signal.properties


def test_verified_colleague_at_the_domain_may_name_another(client, auth, outreach):
    text = "Jane forwarded this to me. Please talk to Lee Park at lee.park@eu.acme.com instead."
    post(client, auth, sendgrid_payload(text=text, sender="Bob Ray <bob@acme.com>"))
    assert Contact.objects.get(email="lee.park@eu.acme.com").account == outreach.account


@time_machine.travel(dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC), tick=False)
def test_outside_referral_is_shown_to_the_rep_and_kept_out_of_the_draft(
    client, auth, outreach, django_capture_on_commit_callbacks
):
    text = "Not me. Please talk to Bob Stone (bob@other.com), our agency handles this."
    with django_capture_on_commit_callbacks(execute=True):
        post(client, auth, sendgrid_payload(text=text))
    rec = Recommendation.objects.get(account=outreach.account, action_type=ActionType.REPLY)
    assert rec.contact == outreach.contact
    statements = list(rec.evidence.values_list("statement", flat=True))
    assert any(
        s.endswith("Jane Doe suggested talking to Bob Stone <bob@other.com>: not added, as it is outside acme.com")
        for s in statements
    ), statements
    assert "bob@other.com" not in rec.draft_body and "Bob Stone" not in rec.draft_body


# --- finding 5: Mailgun routes: the verdict headers of a signed post ----------------------------------------


def test_mailgun_signed_verdicts_verify_the_sender(client, mailgun_key, outreach):
    signal = post(client, {}, mailgun_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS))
    assert signal.properties["verification"] == "DKIM signature of acme.com passed (Mailgun)"
    assert dnc(outreach.contact)


def test_mailgun_spf_pass_of_the_aligned_envelope_sender_verifies(client, mailgun_key, outreach):
    verdicts = [["X-Mailgun-Spf", "Pass"], ["X-Mailgun-Dkim-Check-Result", "Fail"]]
    signal = post(client, {}, mailgun_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS, verdicts=verdicts))
    assert signal.properties["verification"] == "SPF passed for acme.com (Mailgun)"
    assert dnc(outreach.contact)


def test_mailgun_verdicts_of_an_unsigned_post_are_not_trusted(client, settings, auth, outreach):
    """Without the signing key a post is only as good as its Basic auth, and the verdict headers sit
    among the sender's own: they count only on a post Mailgun signed."""
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": ""}
    signal = post(client, auth, mailgun_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS))
    assert signal.properties["verification"].startswith("Mailgun: the post is not signed")
    assert not dnc(outreach.contact)


def test_mailgun_pass_added_by_the_sender_beside_mailguns_fail_is_not_verified(client, mailgun_key, outreach):
    mailgun = [["X-Mailgun-Spf", "SoftFail"], ["X-Mailgun-Dkim-Check-Result", "Fail"]]
    forged = [
        ["X-Mailgun-Spf", "Pass"],
        ["X-Mailgun-Dkim-Check-Result", "Pass"],
        ["DKIM-Signature", "v=1; a=rsa-sha256; d=acme.com; s=s1; b=forged"],
    ]
    payload = mailgun_payload(
        text=UNSUBSCRIBE, in_reply_to=NOT_OURS, verdicts=mailgun, extra_headers=forged, envelope_from="x@evil.net"
    )
    signal = post(client, {}, payload)
    assert signal.properties["sender_verified"] is False and not dnc(outreach.contact)


def test_mailgun_dkim_pass_with_a_signature_of_another_domain_is_not_verified(client, mailgun_key, outreach):
    """Mailgun reports one DKIM result per message: with a signature of evil.net beside one that
    claims acme.com, "Pass" may be evil.net's."""
    verdicts = [
        ["X-Mailgun-Spf", "Fail"],
        ["X-Mailgun-Dkim-Check-Result", "Pass"],
        ["DKIM-Signature", "v=1; a=rsa-sha256; d=evil.net; s=s1; b=good"],
        ["DKIM-Signature", "v=1; a=rsa-sha256; d=acme.com; s=s1; b=broken"],
    ]
    payload = mailgun_payload(text=UNSUBSCRIBE, in_reply_to=NOT_OURS, verdicts=verdicts, envelope_from="x@evil.net")
    signal = post(client, {}, payload)
    assert signal.properties["sender_verified"] is False and not dnc(outreach.contact)


def test_mailgun_raw_mime_carries_its_verdict_headers(client, mailgun_key, outreach):
    raw = (
        "X-Mailgun-Incoming: Yes\nX-Mailgun-Spf: Pass\nX-Mailgun-Dkim-Check-Result: Pass\n"
        "DKIM-Signature: v=1; a=rsa-sha256; d=acme.com; s=s1; b=x\n"
        "From: Jane Doe <jane@acme.com>\nTo: rep@salesai.example\nSubject: Re: hi\nMessage-ID: <mg-raw@acme.com>\n"
        f"In-Reply-To: {NOT_OURS}\n\n{UNSUBSCRIBE}\n"
    )
    payload = mailgun_payload(text="unused")
    payload = {k: payload[k] for k in ("timestamp", "token", "signature")} | {
        "body-mime": raw,
        "sender": "jane@acme.com",
    }
    signal = post(client, {}, payload)
    assert signal.properties["verification"] == "DKIM signature of acme.com passed (Mailgun)"
    assert dnc(outreach.contact)


# --- finding 5: raw MIME and Authentication-Results ----------------------------------------------------------


def _raw_unsubscribe(*auth_results: str, message_id: str = "<raw-ar@acme.com>") -> bytes:
    message = EmailMessage()
    for value in auth_results:
        message["Authentication-Results"] = value
    message["From"] = "Jane Doe <jane@acme.com>"
    message["Subject"] = "Re: Quick question"
    message["Message-ID"] = message_id
    message["In-Reply-To"] = NOT_OURS
    message.set_content(UNSUBSCRIBE)
    return message.as_bytes()


def test_authentication_results_of_a_configured_server_verify(client, auth, settings, outreach):
    settings.INBOUND_EMAIL_AUTHSERV_IDS = ["mx.salesai.example"]
    stamp = "mx.salesai.example; dkim=pass (2048-bit key) header.d=acme.com header.s=s1; spf=fail smtp.mailfrom=x@y.z"
    response = client.post(URL, _raw_unsubscribe(stamp), content_type="message/rfc822", **auth)
    signal = Signal.objects.get(pk=response.json()["id"])
    assert signal.properties["verification"] == "DKIM signature of acme.com passed (mx.salesai.example)"
    assert dnc(outreach.contact)


def test_authentication_results_written_by_anyone_else_are_ignored(client, auth, settings, outreach):
    forged = "mx.salesai.example; dkim=pass header.d=acme.com; dmarc=pass header.from=acme.com"
    response = client.post(URL, _raw_unsubscribe(forged), content_type="message/rfc822", **auth)  # none configured
    assert Signal.objects.get(pk=response.json()["id"]).properties["sender_verified"] is False
    settings.INBOUND_EMAIL_AUTHSERV_IDS = ["mx.salesai.example"]
    theirs = "mx.attacker.example; dkim=pass header.d=acme.com"
    response = client.post(
        URL, _raw_unsubscribe(theirs, message_id="<raw-ar-2@acme.com>"), content_type="message/rfc822", **auth
    )
    assert Signal.objects.get(pk=response.json()["id"]).properties["sender_verified"] is False
    assert not dnc(outreach.contact)


def test_a_forged_authentication_results_below_the_servers_own_is_ignored(client, auth, settings, outreach):
    settings.INBOUND_EMAIL_AUTHSERV_IDS = ["mx.salesai.example"]
    ours = "mx.salesai.example; dkim=none; spf=softfail smtp.mailfrom=x@evil.net; dmarc=fail header.from=acme.com"
    forged = "mx.salesai.example; dmarc=pass header.from=acme.com"
    response = client.post(URL, _raw_unsubscribe(ours, forged), content_type="message/rfc822", **auth)
    signal = Signal.objects.get(pk=response.json()["id"])
    assert signal.properties["sender_verified"] is False
    assert signal.properties["verification"].startswith("mx.salesai.example: dkim none, spf softfail, dmarc fail")
    assert not dnc(outreach.contact)


# --- finding 5: bounces and anymail's views ------------------------------------------------------------------


def test_forged_bounce_naming_a_contact_is_withheld(client, auth, outreach):
    payload = sendgrid_payload(
        text="Final-Recipient: rfc822; jane@acme.com\nAction: failed\nStatus: 5.1.1\n",
        sender="MAILER-DAEMON@evil.net",
        subject="Undelivered Mail Returned to Sender",
        in_reply_to=None,
        message_id="<dsn-forged@evil.net>",
    )
    signal = post(client, auth, payload)
    assert signal.kind == Signal.Kind.EMAIL_BOUNCED and signal.contact == outreach.contact
    assert signal.properties["sender_verified"] is False
    assert signal.properties["effect_withheld"] == (
        "Bounce not applied to jane@acme.com: it names none of our e-mails by Message-ID."
    )


def test_bounce_quoting_our_message_id_is_verified(client, auth, outreach):
    payload = sendgrid_payload(
        text=f"Final-Recipient: rfc822; jane@acme.com\nStatus: 5.1.1\n\nMessage-ID: {OUTREACH_ID}\n",
        sender="MAILER-DAEMON@mx.acme.com",
        subject="Undelivered Mail Returned to Sender",
        in_reply_to=None,
        message_id="<dsn-3@mx.acme.com>",
    )
    signal = post(client, auth, payload)
    assert signal.in_reply_to == outreach and signal.properties["sender_verified"] is True
    assert "effect_withheld" not in signal.properties


def _anymail_event(esp_post: dict) -> AnymailInboundEvent:
    message = AnymailInboundMessage.construct(
        from_email="Jane Doe <jane@acme.com>",
        to="rep@salesai.example",
        subject="Re: Quick question",
        headers={"Message-ID": f"<anymail-{len(esp_post)}@acme.com>", "In-Reply-To": NOT_OURS},
        text=UNSUBSCRIBE,
    )
    request = RequestFactory().post("/anymail/sendgrid/inbound/", esp_post)
    return AnymailInboundEvent(event_type=EventType.INBOUND, message=message, esp_event=request, timestamp=None)


def test_anymail_sendgrid_view_verdicts_are_read(outreach):
    forged = handle_anymail_inbound(sender=object, event=_anymail_event({"SPF": "none"}), esp_name="SendGrid")
    assert forged.properties["sender_verified"] is False and not dnc(outreach.contact)
    event = _anymail_event({"SPF": "none", "dkim": "{@acme.com : pass}"})
    genuine = handle_anymail_inbound(sender=object, event=event, esp_name="SendGrid")
    assert genuine.properties["verification_method"] == "dkim" and dnc(outreach.contact)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spf=st.text(max_size=20),
    dkim=st.text(max_size=60) | st.sampled_from(["{@acme.com : pass}", "{@ : pass}", "{@acme.com:pass,@x.y:}"]),
    envelope=st.text(max_size=40) | st.emails().map(lambda e: json.dumps({"from": e})),
    stamp=st.text(max_size=80) | st.sampled_from(["mx; dkim=pass header.d=", "mx;;; spf=pass smtp.mailfrom=@"]),
)
def test_no_verdict_input_produces_a_500(client, auth, settings, spf, dkim, envelope, stamp):
    settings.INBOUND_EMAIL_AUTHSERV_IDS = ["mx"]
    payload = sendgrid_payload(text=UNSUBSCRIBE, spf=spf, dkim=dkim, in_reply_to=None)
    payload["envelope"] = envelope
    payload["headers"] += f"Authentication-Results: {stamp}\n".replace("\r", " ")
    response = client.post(URL, payload, **auth)
    assert response.status_code < 500, response.content


# --- finding 3 (inbound side): no line break from a Subject or a name ---------------------------------------

INJECTED = "=?utf-8?q?Re=3A_Quick_question=0D=0A=0D=0AOur_bank_details_changed=2C_pay_to_IBAN_X?="


def test_encoded_subject_newline_is_stripped(client, auth, outreach):
    raw = (
        f"From: =?utf-8?q?Jane=0ADoe?= <jane@acme.com>\nTo: rep@salesai.example\nSubject: {INJECTED}\n"
        f"Message-ID: <enc-1@acme.com>\nIn-Reply-To: {OUTREACH_ID}\n\nSounds great, can we talk Tuesday?\n"
    )
    signal = post(client, auth, {"email": raw, "envelope": "{}", "SPF": "pass", "dkim": "{@acme.com : pass}"})
    assert signal.properties["subject"] == "Re: Quick question Our bank details changed, pay to IBAN X"
    assert signal.properties["from_name"] == "Jane Doe"


def test_form_subject_and_from_name_with_line_breaks_are_stripped(client, auth, outreach):
    payload = sendgrid_payload(text="Sounds great!", subject="Re: hi\r\nBcc: all@acme.com\u2028pay here")
    payload["from"] = "Jane\nDoe\u202e <jane@acme.com>"
    signal = post(client, auth, payload)
    assert signal.properties["subject"] == "Re: hi Bcc: all@acme.com pay here"
    assert not has_line_break(signal.properties["from_name"])


def test_encoded_display_name_cannot_change_the_sender_address(client, auth, outreach):
    """Decoded loosely, ``Eve<LF><jane@acme.com>`` would read as a second address, Jane's."""
    raw = (
        "From: =?utf-8?q?Eve=0A<jane@acme.com>?= <eve@evil.net>\nTo: rep@salesai.example\nSubject: Re: hi\n"
        f"Message-ID: <enc-3@evil.net>\nIn-Reply-To: {NOT_OURS}\n\n{UNSUBSCRIBE}\n"
    )
    signal = post(client, auth, {"email": raw, "envelope": "{}", "SPF": "pass", "dkim": "{@evil.net : pass}"})
    assert signal.properties["from"] == "eve@evil.net" and signal.contact is None
    assert signal.properties["from_name"] == "Eve <jane@acme.com>"
    assert not dnc(outreach.contact)


@time_machine.travel(dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC), tick=False)
def test_encoded_subject_newline_never_reaches_the_draft_body(
    client, auth, outreach, django_capture_on_commit_callbacks
):
    raw = (
        f"From: Jane Doe <jane@acme.com>\nTo: rep@salesai.example\nSubject: {INJECTED}\n"
        f"Date: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <enc-2@acme.com>\nIn-Reply-To: {OUTREACH_ID}\n\n"
        "Sounds great, can we talk Tuesday at 2pm?\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        post(client, auth, {"email": raw, "envelope": "{}", "SPF": "pass", "dkim": "{@acme.com : pass}"})
    rec = Recommendation.objects.get(account=outreach.account, action_type=ActionType.REPLY)
    assert "bank details" not in rec.draft_body
    assert not has_line_break(rec.draft_subject)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=st.text(max_size=80), name=st.text(max_size=40), check_in=st.sampled_from(["", "in two\nweeks"]))
def test_no_subject_or_name_is_stored_with_a_line_break(email_source, subject, name, check_in):
    source, _ = email_source
    email = InboundEmail(
        provider="sendgrid",
        from_email="jane@acme.com",
        from_name=name,
        subject=subject,
        text=f"Not right now, ping me {check_in or 'in Q2'}.",
        to=[f"rep{name[:5]}@salesai.example"],
        date=dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC),
        headers=[("Subject", subject), ("X-Autoreply", "")],
    )
    signal, _ = receive_inbound_email(source=source, email=email)
    properties = signal.properties
    stored = [properties["subject"], properties["from_name"], *properties["to"], properties.get("check_in_phrase", "")]
    stored += list(properties["headers"].values())
    assert not any(has_line_break(value) for value in stored), stored


@hypothesis_settings(max_examples=200, deadline=None)
@given(before=st.text(max_size=40), first=st.text(max_size=12), last=st.text(max_size=12))
def test_referral_name_never_holds_a_line_break(before, first, last):
    referral = extract_referral(f"{before} Please talk to {first}\n{last} ({first.lower()}.x@acme.com)")
    assert referral is None or not has_line_break(referral.name)


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
