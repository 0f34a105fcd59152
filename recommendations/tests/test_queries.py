"""Parity: each hand-written statement of ``recommendations.queries`` returns what its ORM equivalent
returns, on the database this run uses (CI runs the suite on SQLite and on PostgreSQL).

One world, built with factories, holds the cases a statement could get wrong: another account's rows,
bots, auto-replies, rows outside a window or on its edges, closed and open records, upper-case paths and
a path hidden in a URL, and values a LIKE pattern must treat as text (``%`` and ``_``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.fields.json import KT, KeyTransform

from accounts.models import AccountPicture, Contract, Goal, Opportunity
from accounts.tests.factories import AccountFactory, ContactFactory, ContractFactory, GoalFactory, OpportunityFactory
from recommendations import queries
from recommendations.models import ActionType, PlaybookConfig, Recommendation
from recommendations.picture import BUCKETS, CONVERSATION_KINDS, INBOUND_KINDS
from recommendations.tests.factories import RecommendationFactory
from salesai import sql
from signals.models import Signal
from signals.tests.factories import SignalFactory, SourceFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


def ago(days: float = 0, hours: float = 0) -> dt.datetime:
    return NOW - dt.timedelta(days=days, hours=hours)


@pytest.fixture
def world():
    """Acme with a bit of everything, and Globex beside it (whose rows no statement about Acme may read)."""
    acme = AccountFactory(name="Acme", domain="acme.com")
    globex = AccountFactory(name="Globex", domain="globex.com")
    dana = ContactFactory(account=acme, name="Dana Lee", email="dana@acme.com", seniority="director")
    sam = ContactFactory(account=acme, email="sam@acme.com", do_not_contact=True, do_not_contact_reason="asked")
    ContactFactory(account=globex, email="gus@globex.com")
    ContractFactory(account=acme, value=Decimal("48000.50"), renewal_date=NOW.date() + dt.timedelta(days=40))
    ContractFactory(account=acme, value=Decimal("1000"), renewal_date=NOW.date())  # renews today: still counts
    ContractFactory(account=acme, renewal_date=NOW.date() - dt.timedelta(days=3))  # past
    ContractFactory(account=acme, status=Contract.Status.CHURNED, renewal_date=NOW.date() + dt.timedelta(days=9))
    ContractFactory(account=globex, renewal_date=NOW.date() + dt.timedelta(days=20))
    OpportunityFactory(account=acme, amount=Decimal("20000"))
    OpportunityFactory(account=acme, amount=Decimal("5000.25"), stage=Opportunity.Stage.NEGOTIATION)
    OpportunityFactory(account=acme, amount=Decimal("9000"), stage=Opportunity.Stage.WON)
    OpportunityFactory(account=acme, amount=Decimal("7000"), stage=Opportunity.Stage.LOST)
    OpportunityFactory(account=globex, amount=Decimal("1"))
    GoalFactory(account=acme, is_met=True, crossings=2, last_crossed_at=ago(3))
    GoalFactory(account=acme, name="Usage drops", metric=Goal.Metric.USAGE_EVENTS_7D, comparator="lte", threshold=5)
    GoalFactory(account=acme, name="Retired", active=False)
    GoalFactory(account=globex)

    source = SourceFactory(name="parity")

    def signal(account=acme, **fields):
        return SignalFactory(source=source, account=account, received_at=NOW, **fields)

    for days in (0.5, 3, 6.9, 7, 8, 13, 20, 40, 100, 119.9, 121):  # every bucket, their edges, and beyond
        signal(kind="page_view", occurred_at=ago(days), properties={"path": "/pricing"}, contact=dana)
    signal(kind="page_view", occurred_at=ago(1), properties={"path": "/Pricing/Enterprise"})
    signal(kind="page_view", occurred_at=ago(1, 2), properties={"url": "https://acme.com/plans?x=1"})
    signal(kind="page_view", occurred_at=ago(1, 3), properties={"path": "/docs"})
    signal(kind="page_view", occurred_at=ago(1, 4), properties={"path": "/100%_off"})
    signal(kind="page_view", occurred_at=ago(1, 5), properties={"path": "/pricing"}, is_bot=True)
    signal(kind="page_view", occurred_at=NOW + dt.timedelta(hours=1), properties={"path": "/pricing"})  # future
    for hours, user in ((1, "u1"), (2, "u1"), (30, "u2"), (200, "u3")):
        signal(kind="product_usage", occurred_at=ago(hours=hours), user_id=user)
    signal(kind="product_usage", occurred_at=ago(2), contact=dana)
    signal(kind="product_usage", occurred_at=ago(2, 1), contact=sam)
    sent = signal(
        kind="email_sent", occurred_at=ago(10), contact=dana, message_id="<m1@acme>", properties={"subject": "Hi"}
    )
    signal(
        kind="email_reply",
        occurred_at=ago(9),
        contact=dana,
        in_reply_to=sent,
        intent="referral",
        intent_confidence=0.8,
        sentiment=0.4,
        properties={"subject": "Re: Hi", "referral": {"name": "Sam Ortiz", "email": "sam@acme.com"}},
    )
    signal(
        kind="email_reply", occurred_at=ago(8), contact=dana, intent="not_now", properties={"check_in_at": "2027-01-05"}
    )
    signal(kind="email_reply", occurred_at=ago(8, 1), contact=dana, is_auto_reply=True, intent="auto_reply")
    signal(
        kind="email_bounced",
        occurred_at=ago(5),
        contact=sam,
        properties={"event": "bounced", "effect_withheld": "Bounce not applied to sam@acme.com: unverified."},
    )
    signal(kind="form_submitted", occurred_at=ago(4), properties={"form": "Demo request"}, contact=dana)
    signal(kind="meeting_booked", occurred_at=ago(2), contact=dana, name="Intro call")
    signal(kind="custom", occurred_at=ago(2), name="Trial started")
    signal(kind="identify", occurred_at=ago(2))
    signal(account=globex, kind="page_view", occurred_at=ago(1), properties={"path": "/pricing"})
    signal(account=globex, kind="email_reply", occurred_at=ago(1), intent="interested")

    def rec(status, action, playbook, key, updated, **fields):
        return RecommendationFactory(
            account=fields.pop("account", acme),
            contact=dana,
            status=status,
            action_type=action,
            playbook=playbook,
            dedupe_key=key,
            updated_at=updated,
            **fields,
        )

    S = Recommendation.Status
    rec(S.PENDING, ActionType.PRICING_OUTREACH, "pricing_interest", "p:1", ago(1), findings=[{"fingerprint": "abc"}])
    rec(S.SCHEDULED, ActionType.REPLY, "reply_waiting", "r:1", ago(1))
    rec(S.SNOOZED, ActionType.CHECK_IN, "check_in", "c:1", ago(1), findings=[])
    for i, (status, days) in enumerate(((S.EXECUTED, 20), (S.EXECUTED, 30), (S.REJECTED, 3), (S.WITHDRAWN, 2))):
        rec(status, ActionType.FOLLOW_UP, "unanswered_outreach", "f:0" if status == S.EXECUTED else f"f:{i}", ago(days))
    rec(S.EXECUTED, ActionType.PRICING_OUTREACH, "pricing_interest", "p:0", ago(4))  # on the `until` edge
    rec(S.EXECUTED, ActionType.PRICING_OUTREACH, "pricing_interest", "p:old", ago(366))
    rec(S.EXPIRED, ActionType.EXPANSION, "goal_crossed", "e:1", ago(50))
    rec(S.EXECUTED, ActionType.PRICING_OUTREACH, "pricing_interest", "g:1", ago(10), account=globex)
    return acme, globex


# --- analysis ---------------------------------------------------------------------------------------------


def test_playbook_settings_match_the_orm():
    PlaybookConfig.objects.create(code="pricing_interest", enabled=False, params={"min_visits": 4, "path": ["/a"]})
    PlaybookConfig.objects.create(code="renewal", params={})
    expected = {(c.code, c.enabled, repr(c.params)) for c in PlaybookConfig.objects.all()}
    assert {(s.code, s.enabled, repr(s.params)) for s in queries.playbook_settings()} == expected


def test_lock_picture_matches_the_orm(world):
    acme, globex = world
    AccountPicture.objects.filter(account=acme).update(version=7, analyzed_at=ago(1), next_check_at=ago(-2))
    with transaction.atomic():
        locked = queries.lock_picture(account_id=acme.pk)
    picture = AccountPicture.objects.select_related("account").get(account=acme)
    assert (locked.version, locked.analyzed_at, locked.next_check_at) == (
        picture.version,
        picture.analyzed_at,
        picture.next_check_at,
    )
    fields = [f.attname for f in type(picture.account)._meta.concrete_fields]
    assert [getattr(locked.account, f) for f in fields] == [getattr(picture.account, f) for f in fields]
    AccountPicture.objects.filter(account=globex).delete()
    with transaction.atomic():
        assert queries.lock_picture(account_id=globex.pk) is None


def test_save_picture_writes_what_the_orm_reads(world):
    acme, _ = world
    AccountPicture.objects.filter(account=acme).update(dirty_since=ago(1))
    state = queries.PictureState(
        features={"pricing_visits_7d": 3, "last_reply": None, "names": ["Dana “D” Lee"]},
        engagement_score=0.25,
        intent_score=0.5,
        risk_score=0.125,
        version=4,
        analyzed_at=NOW,
        next_check_at=None,
    )
    assert queries.save_picture(account_id=acme.pk, state=state) == 1
    picture = AccountPicture.objects.get(account=acme)
    assert (
        picture.features,
        picture.engagement_score,
        picture.intent_score,
        picture.risk_score,
        picture.version,
        picture.analyzed_at,
        picture.next_check_at,
        picture.dirty_since,
    ) == (state.features, 0.25, 0.5, 0.125, 4, NOW, None, None)


def test_unanalysed_ids_and_their_marks_match_the_orm(world):
    acme, globex = world
    Signal.objects.filter(account=acme, kind="custom").update(analyzed_at=ago(1))
    unanalysed = Signal.objects.filter(account=acme, analyzed_at__isnull=True).order_by("id")
    assert queries.unanalysed_signal_ids(account_id=acme.pk, limit=5) == list(
        unanalysed.values_list("id", flat=True)[:5]
    )
    ids = queries.unanalysed_signal_ids(account_id=acme.pk, limit=1000)
    assert ids == list(unanalysed.values_list("id", flat=True))

    assert queries.mark_signals_analysed(signal_ids=ids[:3], at=NOW) == 3
    assert set(Signal.objects.filter(analyzed_at=NOW).values_list("id", flat=True)) == set(ids[:3])
    assert queries.mark_signals_analysed(signal_ids=[], at=NOW) == 0
    assert Signal.objects.filter(account=globex, analyzed_at__isnull=False).count() == 0


# --- the composer -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("playbook", ["pricing_interest", "unanswered_outreach", "goal_crossed", "nobody"])
def test_executed_count_matches_the_orm(world, playbook):
    since, until = ago(365), ago(4)
    expected = Recommendation.objects.filter(
        playbook=playbook, status=Recommendation.Status.EXECUTED, updated_at__gte=since, updated_at__lte=until
    ).count()
    assert queries.executed_count(playbook=playbook, since=since, until=until) == expected


def test_open_recommendations_match_the_orm(world):
    acme, _ = world
    with transaction.atomic():
        rows = queries.open_recommendations_for_update(account_id=acme.pk)
    expected = Recommendation.objects.filter(account=acme, status__in=Recommendation.OPEN_STATUSES)
    assert sorted(r.pk for r in rows) == sorted(expected.values_list("pk", flat=True))
    for row in rows:
        stored = expected.get(pk=row.pk)
        fields = ("account_id", "contact_id", "action_type", "playbook", "status", "dedupe_key", "version")
        assert [getattr(row, f) for f in (*fields, "awaiting_polish")] == [
            getattr(stored, f) for f in (*fields, "awaiting_polish")
        ]
        first = stored.findings[0] if stored.findings else {}
        assert row.fingerprint == first.get("fingerprint")
        assert row.reasoning == stored.reasoning  # what the statement leaves out loads on access


# --- the picture --------------------------------------------------------------------------------------------


def test_account_records_match_the_orm(world):
    acme, _ = world
    renewals_from = NOW.date()
    records = queries.account_records(account_id=acme.pk, renewals_from=renewals_from)

    contacts = acme.contacts.order_by("id")
    fields = ("id", "name", "email", "seniority", "title", "do_not_contact", "do_not_contact_reason")
    assert [tuple(getattr(c, f) for f in fields) for c in records.contacts] == list(contacts.values_list(*fields))
    contracts = Contract.objects.filter(
        account=acme, status=Contract.Status.ACTIVE, renewal_date__gte=renewals_from
    ).order_by("renewal_date", "id")
    fields = ("id", "value", "renewal_date", "status")
    assert [tuple(getattr(c, f) for f in fields) for c in records.contracts] == list(contracts.values_list(*fields))
    amount = (
        Opportunity.objects.filter(account=acme)
        .exclude(stage__in=[Opportunity.Stage.WON, Opportunity.Stage.LOST])
        .aggregate(total=Sum("amount"))["total"]
    )
    assert records.open_opportunity_amount == amount == Decimal("25000.25")
    goals = Goal.objects.filter(account=acme, active=True).order_by("id")
    fields = ("id", "name", "metric", "comparator", "threshold", "is_met", "crossings", "last_crossed_at")
    assert [tuple(getattr(g, f) for f in fields) for g in records.goals] == list(goals.values_list(*fields))


def test_account_records_of_an_account_with_none(world):
    empty = AccountFactory(domain="empty.example")
    records = queries.account_records(account_id=empty.pk, renewals_from=NOW.date())
    assert records == queries.AccountRecords(contacts=(), contracts=(), open_opportunity_amount=Decimal("0"), goals=())


def test_signal_summary_matches_the_orm(world):
    acme, _ = world
    happened = Q(occurred_at__lte=NOW)
    week = happened & Q(occurred_at__gt=NOW - dt.timedelta(days=7))
    buckets = {
        f"b{i}": Count(
            "id",
            filter=happened
            & Q(occurred_at__gt=NOW - dt.timedelta(days=end), occurred_at__lte=NOW - dt.timedelta(days=start)),
        )
        for i, (start, end) in enumerate(BUCKETS)
    }
    expected = {
        row["kind"]: row
        for row in Signal.objects.filter(account=acme, is_bot=False)
        .order_by()
        .values("kind")
        .annotate(
            max_id=Max("id"),
            last_human=Max("occurred_at", filter=happened & Q(is_auto_reply=False)),
            users=Count("user_id", distinct=True, filter=week & ~Q(user_id="")),
            contacts=Count("contact_id", distinct=True, filter=week & Q(user_id="")),
            oldest=Min("occurred_at", filter=week),
            **buckets,
        )
    }
    rows = queries.signal_summary(account_id=acme.pk, now=NOW, buckets=BUCKETS)
    assert sorted(r.kind for r in rows) == sorted(expected)
    for row in rows:
        orm = expected[row.kind]
        assert (row.max_id, row.last_human_at, row.users_7d, row.contacts_7d, row.oldest_7d) == (
            orm["max_id"],
            orm["last_human"],
            orm["users"],
            orm["contacts"],
            orm["oldest"],
        ), row.kind
        assert row.counts == tuple(orm[f"b{i}"] for i in range(len(BUCKETS))), row.kind
    usage = next(r for r in rows if r.kind == "product_usage")
    assert (usage.users_7d, usage.contacts_7d) == (2, 2)  # u1, u2; Dana and Sam (u3 is 8 days old)


@pytest.mark.parametrize("quiet_for", [2, 4.5, 30])
def test_silence_matches_the_orm(world, quiet_for):
    acme, _ = world
    last = ago(quiet_for)
    Signal.objects.filter(account=acme, kind="form_submitted").update(occurred_at=last)
    before = dt.timedelta(days=28)
    inbound = Signal.objects.filter(account=acme, kind__in=INBOUND_KINDS, is_bot=False)
    newest = inbound.filter(occurred_at=last, is_auto_reply=False).order_by("id").values_list("id", flat=True).first()
    window = inbound.filter(occurred_at__gt=last - before, occurred_at__lte=last)
    days = {at.astimezone(dt.UTC).date() for at in window.values_list("occurred_at", flat=True)}
    quiet = queries.silence(account_id=acme.pk, kinds=INBOUND_KINDS, last_activity_at=last, before=before)
    assert quiet == queries.Silence(last_signal_id=newest, activity_before=window.count(), active_days=len(days))
    assert 1 <= quiet.active_days <= quiet.activity_before
    assert quiet.last_signal_id is not None


@pytest.mark.parametrize(
    "paths", [("/pricing",), ("/pricing", "/plans"), ("%",), ("100%_off",), ()], ids=["one", "two", "%", "%_", "none"]
)
@pytest.mark.parametrize("limit", [600, 4])
def test_conversation_matches_the_orm(world, paths, limit):
    acme, _ = world
    since = NOW - dt.timedelta(days=120)
    pages = Q()
    for path in paths:
        pages |= Q(properties__path__icontains=path) | Q(properties__url__icontains=path)
    which = Q(kind__in=CONVERSATION_KINDS) | (Q(kind="page_view") & pages) if paths else Q(kind__in=CONVERSATION_KINDS)
    newest = (
        Signal.objects.filter(which, account=acme, occurred_at__lte=NOW, occurred_at__gt=since, is_bot=False)
        .annotate(
            p_path=KT("properties__path"),
            p_url=KT("properties__url"),
            p_form=KT("properties__form"),
            p_event=KT("properties__event"),
            p_check_in_at=KT("properties__check_in_at"),
            p_subject=KT("properties__subject"),
            p_referral=KeyTransform("referral", "properties"),
            p_withheld=KT("properties__effect_withheld"),
        )
        .order_by("-occurred_at", "-id")[:limit]
    )
    expected = [
        (
            s.id,
            s.kind,
            s.name,
            s.occurred_at,
            s.contact_id,
            s.intent,
            s.intent_confidence,
            s.sentiment,
            s.is_auto_reply,
            s.in_reply_to_id,
            s.p_path,
            s.p_url,
            s.p_form,
            s.p_event,
            s.p_check_in_at,
            s.p_subject,
            s.p_referral,
            s.p_withheld,
        )
        for s in reversed(list(newest))
    ]
    rows = queries.conversation(
        account_id=acme.pk, now=NOW, since=since, kinds=CONVERSATION_KINDS, page_paths=paths, limit=limit
    )
    got = [
        (
            r.id,
            r.kind,
            r.name,
            r.occurred_at,
            r.contact_id,
            r.intent,
            r.intent_confidence,
            r.sentiment,
            r.is_auto_reply,
            r.in_reply_to_id,
            r.path,
            r.url,
            r.form,
            r.event,
            r.check_in_at,
            r.subject,
            sql.json_value(r.referral),
            r.effect_withheld,
        )
        for r in rows
    ]
    assert got == expected
    assert len(got) == min(limit, len(expected)) and got


def test_closed_recommendations_match_the_orm(world):
    acme, _ = world
    expected = {
        (row["action_type"], row["dedupe_key"], row["status"], row["last"])
        for row in Recommendation.objects.filter(account=acme)
        .exclude(status__in=Recommendation.OPEN_STATUSES)
        .order_by()
        .values("action_type", "dedupe_key", "status")
        .annotate(last=Max("updated_at"))
    }
    got = {
        (r.action_type, r.dedupe_key, r.status, r.last_updated_at)
        for r in queries.closed_recommendations(account_id=acme.pk)
    }
    assert got == expected
    assert ("follow_up", "f:0", "executed", ago(20)) in got  # the newest of two closings with one key
