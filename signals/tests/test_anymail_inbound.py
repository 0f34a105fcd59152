"""django-anymail's own inbound views deliver into the same service as ``POST /api/v1/inbound/email``:
the receiver is connected to ``anymail.signals.inbound`` when the app is ready (it was not connected
at all before), and anymail's URLs are served only once its webhook secret is set."""

from __future__ import annotations

import base64

import pytest
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, EventType, inbound

from signals.models import Signal, Source
from signals.tests.inbound_helpers import (  # noqa: F401 — pytest finds the fixtures by name
    MAILGUN_KEY,
    OUTREACH_ID,
    mailgun_payload,
    outreach,
)

pytestmark = pytest.mark.django_db

SECRET = "anymail-hook:s3cret"


@pytest.fixture
def anymail_settings(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "WEBHOOK_SECRET": SECRET}


def _post_to_anymails_view(client, payload: dict, *, authorization: str | None):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return client.post("/anymail/mailgun/inbound/", payload, **extra)


def test_the_receiver_is_connected_when_the_app_is_ready(outreach):  # noqa: F811
    message = AnymailInboundMessage.construct(
        from_email="Jane Doe <jane@acme.com>",
        to="rep@salesai.example",
        subject="Re: Quick question",
        headers={"Message-ID": "<anymail-sent@acme.com>", "In-Reply-To": OUTREACH_ID},
        text="Yes, let's talk.",
    )
    event = AnymailInboundEvent(event_type=EventType.INBOUND, event_id="evt-9", message=message, timestamp=None)
    inbound.send(sender=object, event=event, esp_name="Postmark")
    signal = Signal.objects.get(kind=Signal.Kind.EMAIL_REPLY)
    assert (signal.source.name, signal.in_reply_to) == ("anymail-postmark", outreach)


@pytest.mark.urls("signals.tests.urls_anymail")
def test_a_reply_through_anymails_mailgun_view_is_stored_by_our_service(client, anymail_settings, outreach):  # noqa: F811
    basic = "Basic " + base64.b64encode(SECRET.encode()).decode()
    response = _post_to_anymails_view(client, mailgun_payload(text="Yes, let's talk next week."), authorization=basic)
    assert response.status_code == 200
    signal = Signal.objects.get(kind=Signal.Kind.EMAIL_REPLY)
    assert (signal.source.name, signal.source.kind) == ("anymail-mailgun", Source.Kind.EMAIL)
    assert signal.in_reply_to == outreach and signal.contact == outreach.contact
    assert signal.intent == Signal.Intent.INTERESTED
    assert signal.properties["sender_verified"] is True  # anymail's view checked Mailgun's signature


@pytest.mark.urls("signals.tests.urls_anymail")
def test_anymails_view_refuses_a_post_without_its_secret_and_nothing_is_stored(client, anymail_settings, outreach):  # noqa: F811
    response = _post_to_anymails_view(client, mailgun_payload(text="Yes"), authorization=None)
    assert response.status_code == 400
    assert not Signal.objects.filter(kind=Signal.Kind.EMAIL_REPLY).exists()


def test_anymails_urls_are_not_served_without_a_webhook_secret(client, outreach):  # noqa: F811
    assert client.post("/anymail/mailgun/inbound/", mailgun_payload(text="Yes")).status_code == 404
    assert not Signal.objects.filter(kind=Signal.Kind.EMAIL_REPLY).exists()
