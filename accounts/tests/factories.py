"""Factories for the accounts app, with traits for named situations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import Account, AccountPicture, Contact, Contract, Goal, Opportunity, OpportunityChange, RepProfile
from salesai import clock
from salesai.roles import MANAGER_GROUP, REP_GROUP


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"rep{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@salesai.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct horse battery staple")

    role = factory.PostGeneration(
        lambda user, create, extracted, **kw: _join_group(user, create, extracted or REP_GROUP)
    )
    #: ``UserFactory(undo_seconds=0)``: the person's undo window (a RepProfile row), default none (30 s)
    undo_seconds = factory.PostGeneration(
        lambda user, create, extracted, **kw: (
            RepProfile.objects.update_or_create(user=user, defaults={"undo_seconds": extracted})
            if create and extracted is not None
            else None
        )
    )
    #: ``UserFactory(time_zone="Europe/Berlin")``: the person's local day and hours (a RepProfile row)
    time_zone = factory.PostGeneration(
        lambda user, create, extracted, **kw: (
            RepProfile.objects.update_or_create(user=user, defaults={"time_zone": extracted})
            if create and extracted is not None
            else None
        )
    )


def _join_group(user, create: bool, group_name: str) -> None:
    if create:
        user.groups.add(Group.objects.get_or_create(name=group_name)[0])


class ManagerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"manager{n}")
    role = factory.PostGeneration(
        lambda user, create, extracted, **kw: _join_group(user, create, extracted or MANAGER_GROUP)
    )


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("domain",)
        skip_postgeneration_save = True

    name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    owner = factory.SubFactory(UserFactory)
    segment = Account.Segment.MID_MARKET
    arr = Decimal("48000")
    seats = 50
    picture = factory.RelatedFactory("accounts.tests.factories.AccountPictureFactory", factory_related_name="account")

    class Params:
        strategic_enterprise = factory.Trait(strategic=True, segment=Account.Segment.ENTERPRISE, arr=Decimal("250000"))


class AccountPictureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountPicture
        django_get_or_create = ("account",)

    account = factory.SubFactory(AccountFactory, picture=None)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        django_get_or_create = ("email",)

    account = factory.SubFactory(AccountFactory)
    name = factory.Faker("name")
    email = factory.LazyAttributeSequence(
        lambda c, n: f"{c.name.split()[0].lower()}.{n}@{c.account.domain if c.account else 'gmail.com'}"
    )
    title = "Head of Operations"
    seniority = Contact.Seniority.DIRECTOR

    class Params:
        c_level = factory.Trait(title="Chief Executive Officer", seniority=Contact.Seniority.C_LEVEL)
        unreachable = factory.Trait(do_not_contact=True, do_not_contact_reason="Unsubscribed")


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    account = factory.SubFactory(AccountFactory)
    name = factory.LazyAttribute(lambda o: f"{o.account.name} expansion")
    amount = Decimal("20000")
    stage = Opportunity.Stage.EVALUATION
    close_date = factory.LazyFunction(lambda: (clock.now() + dt.timedelta(days=45)).date())


class OpportunityChangeFactory(factory.django.DjangoModelFactory):
    """One observed change of a deal (``field`` stage, close_date or status)."""

    class Meta:
        model = OpportunityChange

    opportunity = factory.SubFactory(OpportunityFactory)
    field = OpportunityChange.Field.STAGE
    old_value = ""
    new_value = factory.LazyAttribute(lambda c: c.opportunity.stage)
    changed_at = factory.LazyFunction(clock.now)


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    account = factory.SubFactory(AccountFactory)
    value = Decimal("48000")
    start_date = factory.LazyFunction(lambda: (clock.now() - dt.timedelta(days=300)).date())
    renewal_date = factory.LazyFunction(lambda: (clock.now() + dt.timedelta(days=58)).date())

    class Params:
        renewing_soon = factory.Trait(
            renewal_date=factory.LazyFunction(lambda: (clock.now() + dt.timedelta(days=25)).date())
        )


class GoalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Goal

    account = factory.SubFactory(AccountFactory)
    name = "Seat usage reaches 80%"
    metric = Goal.Metric.SEAT_UTILIZATION
    comparator = Goal.Comparator.GTE
    threshold = 0.8
