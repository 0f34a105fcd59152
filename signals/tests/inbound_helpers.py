"""Fixtures and payload builders of the inbound e-mail tests: SendGrid Inbound Parse and Mailgun route
posts in the providers' real field formats, and the outreach a reply answers.

Test modules import the fixtures they use by name (pytest finds them in the module's namespace)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import pytest

from accounts.tests.factories import AccountFactory, ContactFactory
from signals.models import Source
from signals.sources import create_source
from signals.tests.factories import SignalFactory

URL = "/api/v1/inbound/email"
MAILGUN_KEY = "key-test-mailgun-signing"
OUTREACH_ID = "<out-1@salesai.example>"

QUOTED = (
    "\n\nBest,\nJane Doe\nHead of Sales, Acme\n\nOn Fri, Nov 20, 2026 at 9:00 AM Rep <rep@salesai.example> wrote:\n"
    "> Hi Jane,\n> would you have 15 minutes next week to talk about your pipeline?\n> Rep"
)


@pytest.fixture
def email_source():
    return create_source(name="inbound-mail", kind=Source.Kind.EMAIL)


@pytest.fixture
def auth(email_source):
    _, write_key = email_source
    token = base64.b64encode(f"{write_key}:".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


@pytest.fixture
def mailgun_key(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    return MAILGUN_KEY


@pytest.fixture
def outreach():
    account = AccountFactory(domain="acme.com", name="Acme")
    contact = ContactFactory(account=account, email="jane@acme.com", name="Jane Doe")
    return SignalFactory(
        outreach=True,
        account=account,
        contact=contact,
        message_id=OUTREACH_ID,
        occurred_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC),
    )


def _address_of(sender: str) -> str:
    return sender.split("<")[-1].rstrip(">").strip()


def sendgrid_payload(
    *,
    text: str,
    sender: str = "Jane Doe <jane@acme.com>",
    subject: str = "Re: Quick question",
    message_id: str = "<reply-1@acme.com>",
    in_reply_to: str | None = OUTREACH_ID,
    extra_headers: str = "",
    date: str = "Thu, 26 Nov 2026 10:00:00 +0000",
    spf: str | None = None,
    dkim: str | None = None,
    envelope_from: str | None = None,
) -> dict:
    """A default-mode Inbound Parse post. SendGrid always sends ``SPF`` and ``dkim``; by default they
    say what they say for genuine mail from the sender's domain. Pass ``spf="none", dkim="none"`` (or
    others) for mail nobody vouches for."""
    address = _address_of(sender)
    domain = address.rpartition("@")[2]
    headers = (
        f"Received: by mx.sendgrid.net\nFrom: {sender}\nTo: rep@salesai.example\nSubject: {subject}\n"
        f"Date: {date}\nMessage-ID: {message_id}\n"
        + (f"In-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n" if in_reply_to else "")
        + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=xyz\n"
        + extra_headers
    )
    return {
        "headers": headers,
        "from": sender,
        "to": "rep@salesai.example",
        "subject": subject,
        "text": text,
        "envelope": json.dumps({"from": envelope_from or address, "to": ["rep@salesai.example"]}),
        "charsets": json.dumps({"text": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}),
        "spam_score": "0.1",
        "SPF": "pass" if spf is None else spf,
        "dkim": f"{{@{domain} : pass}}" if dkim is None else dkim,
        "sender_ip": "203.0.113.7",
    }


def unverified(**kwargs) -> dict:
    """A SendGrid post that nothing vouches for: SPF neutral, no DKIM signature."""
    return sendgrid_payload(spf="neutral", dkim="none", **kwargs)


def mailgun_payload(
    *,
    text: str,
    key: str = MAILGUN_KEY,
    timestamp: int | None = None,
    token: str = "tok-1",
    verdicts: list[list[str]] | None = None,
    **kw,
) -> dict:
    """A Mailgun route ``forward()`` post, signed with ``key``. ``verdicts`` are the headers Mailgun
    puts first (``X-Mailgun-Spf`` …); by default those of genuine mail from the sender's domain."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    message_id = kw.get("message_id", "<mg-reply-1@acme.com>")
    sender = kw.get("sender", "Jane Doe <jane@acme.com>")
    envelope = kw.get("envelope_from", _address_of(sender))
    if verdicts is None:
        verdicts = [
            ["X-Mailgun-Incoming", "Yes"],
            ["X-Mailgun-Spf", "Pass"],
            ["X-Mailgun-Dkim-Check-Result", "Pass"],
            ["X-Mailgun-Sflag", "No"],
            ["X-Mailgun-Sscore", "0.0"],
            ["Dkim-Signature", f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={envelope.rpartition('@')[2]}; s=s1; b=x"],
        ]
    headers = [
        *verdicts,
        ["From", sender],
        ["To", "rep@salesai.example"],
        ["Subject", kw.get("subject", "Re: Quick question")],
        ["Date", "Thu, 26 Nov 2026 10:00:00 +0000"],
        ["Message-Id", message_id],
        ["In-Reply-To", kw.get("in_reply_to", OUTREACH_ID)],
        ["References", kw.get("in_reply_to", OUTREACH_ID)],
        *kw.get("extra_headers", []),
    ]
    return {
        "recipient": "rep@salesai.example",
        "sender": envelope,
        "from": sender,
        "subject": kw.get("subject", "Re: Quick question"),
        "body-plain": text,
        "stripped-text": text.split("\n\nOn ")[0],
        "Message-Id": message_id,
        "message-headers": json.dumps(headers),
        "timestamp": str(timestamp),
        "token": token,
        "signature": signature,
    }
