"""Factories for sources and signals."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import factory

from accounts.tests.factories import AccountFactory, ContactFactory
from salesai import clock
from signals.models import Signal, Source


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = Source.Kind.SEGMENT
    write_key_hash = factory.LazyFunction(lambda: hashlib.sha256(uuid.uuid4().bytes).hexdigest())
    signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    source = factory.SubFactory(SourceFactory)
    account = factory.SubFactory(AccountFactory)
    contact = None
    kind = Signal.Kind.PAGE_VIEW
    external_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    occurred_at = factory.LazyFunction(lambda: clock.now() - dt.timedelta(hours=1))
    received_at = factory.LazyFunction(clock.now)
    properties = factory.Dict({})

    class Params:
        pricing_view = factory.Trait(
            kind=Signal.Kind.PAGE_VIEW,
            properties=factory.Dict({"path": "/pricing", "url": "https://salesai.example/pricing", "title": "Pricing"}),
        )
        outreach = factory.Trait(
            kind=Signal.Kind.EMAIL_SENT,
            contact=factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..account")),
            message_id=factory.LazyFunction(lambda: f"<{uuid.uuid4().hex}@salesai.example>"),
            properties=factory.Dict({"subject": "Quick question"}),
        )
        positive_reply = factory.Trait(
            kind=Signal.Kind.EMAIL_REPLY,
            contact=factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..account")),
            intent=Signal.Intent.INTERESTED,
            intent_confidence=0.9,
            sentiment=0.7,
            properties=factory.Dict({"text": "Sounds great, can we talk next week?"}),
        )
