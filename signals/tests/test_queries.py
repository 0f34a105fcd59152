"""Parity of the hand-written statements of ``signals.queries`` with their ORM equivalents.

The suite runs twice (SQLite, then PostgreSQL), so each test here checks both statements: the
portable one and PostgreSQL's arrays."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from accounts.models import Account
from accounts.tests.factories import AccountFactory, ContactFactory
from salesai import clock
from signals import queries
from signals.identity.resolver import Resolver
from signals.models import AnonymousIdentity, GroupIdentity, Signal, WebhookDelivery
from signals.queries import DeliveryClaim, SignalDraft, claim_delivery, insert_signals
from signals.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=dt.UTC)
COMPARED = (
    "kind",
    "name",
    "account_id",
    "contact_id",
    "user_id",
    "anonymous_id",
    "occurred_at",
    "properties",
    "message_id",
    "is_bot",
    "intent",
    "is_auto_reply",
    "received_at",
    "analyzed_at",
    "in_reply_to_id",
)


def _drafts(account, contact) -> list[SignalDraft]:
    return [
        SignalDraft(
            kind=Signal.Kind.PAGE_VIEW,
            external_id="a",
            occurred_at=WHEN,
            name="Pricing",
            properties={"url": "https://acme.com/pricing", "nested": {"n": [1, 2.5, None, "ü"]}},
            anonymous_id="anon-1",
            is_bot=True,
        ),
        SignalDraft(
            kind=Signal.Kind.FORM_SUBMITTED,
            external_id="b",
            occurred_at=WHEN - dt.timedelta(days=3),
            account_id=account.pk,
            contact_id=contact.pk,
            user_id="u-1",
            message_id="<m@acme.com>",
        ),
        SignalDraft(kind=Signal.Kind.CUSTOM, external_id="c" * 200, occurred_at=WHEN, name="n" * 200),
    ]


def _orm_insert(source, drafts, received_at) -> list[Signal]:
    rows = [
        Signal(
            source=source,
            kind=d.kind,
            external_id=d.external_id,
            occurred_at=d.occurred_at,
            received_at=received_at,
            account_id=d.account_id,
            contact_id=d.contact_id,
            properties=d.properties,
            name=d.name,
            user_id=d.user_id,
            anonymous_id=d.anonymous_id,
            message_id=d.message_id,
            is_bot=d.is_bot,
        )
        for d in drafts
    ]
    return Signal.objects.bulk_create(rows, ignore_conflicts=True)


def _stored(source) -> dict[str, tuple]:
    return {
        external_id: values
        for external_id, *values in Signal.objects.filter(source=source).values_list("external_id", *COMPARED)
    }


def test_insert_stores_what_the_orm_stores_and_skips_duplicates_like_it():
    account = AccountFactory()
    contact = ContactFactory(account=account)
    by_sql, by_orm = SourceFactory(), SourceFactory()
    received_at = clock.now()
    drafts = _drafts(account, contact)

    outcome = insert_signals(source_id=by_sql.pk, received_at=received_at, drafts=drafts)
    _orm_insert(by_orm, drafts, received_at)

    assert outcome.claimed
    assert _stored(by_sql) == _stored(by_orm) and len(_stored(by_sql)) == 3
    assert {(s.id, s.account_id, s.external_id) for s in outcome.stored} == set(
        Signal.objects.filter(source=by_sql).values_list("id", "account_id", "external_id")
    )
    again = [*drafts, SignalDraft(kind=Signal.Kind.CUSTOM, external_id="d", occurred_at=WHEN)]
    outcome = insert_signals(source_id=by_sql.pk, received_at=received_at, drafts=again)
    _orm_insert(by_orm, again, received_at)
    assert [s.external_id for s in outcome.stored] == ["d"]  # only the new one comes back
    assert _stored(by_sql) == _stored(by_orm) and len(_stored(by_sql)) == 4


def test_insert_sends_more_than_a_chunk_in_several_statements(django_assert_num_queries):
    source = SourceFactory()
    drafts = [SignalDraft(kind="custom", external_id=f"e{n}", occurred_at=WHEN) for n in range(queries.CHUNK + 1)]
    with django_assert_num_queries(2):
        outcome = insert_signals(source_id=source.pk, received_at=clock.now(), drafts=drafts)
    assert len(outcome.stored) == queries.CHUNK + 1 == Signal.objects.filter(source=source).count()


@pytest.fixture
def people():
    """Who a call may be about: the situations ``Resolver.resolve`` tells apart."""
    source = SourceFactory()
    acme, globex = AccountFactory(domain="acme.com"), AccountFactory(domain="globex.com")
    ContactFactory(account=acme, user_id="ada")
    bo = ContactFactory(account=None, user_id="bo")  # a person without a company (free-mail)
    cy = ContactFactory(account=globex)
    AnonymousIdentity.objects.create(anonymous_id="anon-cy", contact=cy)
    AnonymousIdentity.objects.create(anonymous_id="anon-bo", contact=bo)
    GroupIdentity.objects.create(source=source, group_id="g-globex", account=globex)
    GroupIdentity.objects.create(source=SourceFactory(), group_id="g-other", account=acme)  # another source's
    return source


CALLS = [
    {"user_id": "ada"},
    {"user_id": "ada", "anonymous_id": "anon-cy"},  # the userId wins
    {"user_id": "nobody", "anonymous_id": "anon-cy"},  # an unknown userId falls back to the visitor
    {"anonymous_id": "anon-cy", "group_id": "g-globex"},
    {"user_id": "bo"},  # a person without an account
    {"user_id": "bo", "group_id": "g-globex"},  # … whose group names one
    {"anonymous_id": "anon-bo", "group_id": "g-other"},  # another source's group names nothing
    {"group_id": "g-globex"},
    {"user_id": "nobody", "anonymous_id": "nobody"},
    {},
]


@pytest.mark.parametrize("call", CALLS, ids=lambda call: ",".join(f"{k}={v}" for k, v in call.items()) or "none")
def test_the_statement_finds_whom_a_call_is_about_as_the_resolver_does(people, call):
    source = people
    user_id, anonymous_id, group_id = call.get("user_id", ""), call.get("anonymous_id", ""), call.get("group_id", "")
    draft = SignalDraft(
        kind="page_view",
        external_id="x",
        occurred_at=WHEN,
        user_id=user_id,
        anonymous_id=anonymous_id,
        find_person=True,
        find_group_id=group_id,
    )
    outcome = insert_signals(source_id=source.pk, received_at=clock.now(), drafts=[draft])
    stored = Signal.objects.get(pk=outcome.stored[0].id)
    expected = Resolver(source=source).resolve(user_id=user_id, anonymous_id=anonymous_id, group_id=group_id)
    assert (stored.contact_id, stored.account_id) == (expected.contact_id, expected.account_id)
    assert outcome.stored[0].account_id == expected.account_id


def test_many_calls_in_one_statement_are_found_as_one_by_one(people):
    """The arrays of a batch carry the look-ups as the plain parameters of a single call do."""
    source = people
    drafts = [
        SignalDraft(
            kind="page_view",
            external_id=f"x{index}",
            occurred_at=WHEN,
            user_id=call.get("user_id", ""),
            anonymous_id=call.get("anonymous_id", ""),
            find_person=True,
            find_group_id=call.get("group_id", ""),
        )
        for index, call in enumerate(CALLS)
    ]
    insert_signals(source_id=source.pk, received_at=clock.now(), drafts=drafts)
    stored = {e: (c, a) for e, c, a in Signal.objects.values_list("external_id", "contact_id", "account_id")}
    for index, call in enumerate(CALLS):
        expected = Resolver(source=source).resolve(
            user_id=call.get("user_id", ""),
            anonymous_id=call.get("anonymous_id", ""),
            group_id=call.get("group_id", ""),
        )
        assert stored[f"x{index}"] == (expected.contact_id, expected.account_id), call


@pytest.mark.parametrize("domain", ["acme.com", "unknown.example", ""])
def test_the_statement_finds_an_account_by_domain_as_the_orm_does(people, domain):
    draft = SignalDraft(kind="custom", external_id="x", occurred_at=WHEN, find_account_domain=domain)
    outcome = insert_signals(source_id=people.pk, received_at=clock.now(), drafts=[draft])
    expected = Account.objects.filter(domain=domain).values_list("pk", flat=True).first()
    assert outcome.stored[0].account_id == expected == Signal.objects.get().account_id


def test_a_known_contact_or_account_is_not_looked_up_again(people):
    draft = SignalDraft(
        kind="custom",
        external_id="x",
        occurred_at=WHEN,
        user_id="ada",
        account_id=None,
        contact_id=None,
        find_person=False,
        find_group_id="",
    )
    insert_signals(source_id=people.pk, received_at=clock.now(), drafts=[draft])
    assert Signal.objects.values_list("contact_id", "account_id").get() == (None, None)


def test_a_claimed_insert_claims_once_as_get_or_create_does():
    source, other = SourceFactory(), SourceFactory()
    received_at = clock.now()
    claim = DeliveryClaim(webhook_id="msg_1", received_at=received_at)
    draft = SignalDraft(kind="custom", external_id="s1", occurred_at=WHEN)

    first = insert_signals(source_id=source.pk, received_at=received_at, drafts=[draft], claim=claim)
    replay = insert_signals(source_id=source.pk, received_at=received_at, drafts=[draft], claim=claim)
    orm = [
        WebhookDelivery.objects.get_or_create(source=other, webhook_id="msg_1", defaults={"received_at": received_at})[
            1
        ]
        for _ in range(2)
    ]

    assert [first.claimed, replay.claimed] == orm == [True, False]
    assert [s.external_id for s in first.stored] == ["s1"] and replay.stored == []
    assert Signal.objects.filter(source=source).count() == 1
    # a new delivery of a signal stored before: claimed, but nothing new stored
    duplicate = insert_signals(
        source_id=source.pk, received_at=received_at, drafts=[draft], claim=DeliveryClaim("msg_2", received_at)
    )
    assert duplicate.claimed and duplicate.stored == []
    assert set(WebhookDelivery.objects.filter(source=source).values_list("webhook_id", flat=True)) == {"msg_1", "msg_2"}


def test_claim_delivery_claims_once_as_get_or_create_does():
    source, other = SourceFactory(), SourceFactory()
    claim = DeliveryClaim(webhook_id="msg_1", received_at=clock.now())
    by_sql = [claim_delivery(source_id=source.pk, claim=claim) for _ in range(2)]
    by_orm = [
        WebhookDelivery.objects.get_or_create(
            source=other, webhook_id="msg_1", defaults={"received_at": claim.received_at}
        )[1]
        for _ in range(2)
    ]
    assert by_sql == by_orm == [True, False]
    stored = WebhookDelivery.objects.get(source=source)
    assert stored.received_at == WebhookDelivery.objects.get(source=other).received_at == claim.received_at


def test_statements_carry_no_values_of_their_own():
    """Enum values and every other value are parameters: the only literal is the empty string."""
    variants = [frozenset(c) for n in range(4) for c in itertools.combinations(("person", "group", "domain"), n)]
    statements = [queries._CLAIM]
    for lookups in variants:
        for claimed, single in itertools.product((False, True), repeat=2):
            statements.append(queries._pg_sql(lookups, claimed=claimed, single=single))
        statements.append(queries._portable_sql(2, lookups))
    for sql in statements:
        assert "'" not in sql.replace("''", ""), sql
