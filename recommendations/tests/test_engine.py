"""End to end: signals in through the public ingestion API → analysis → recommendations with their
reasoning; time moves with ``sweep --as-of``."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountPicture, Goal
from accounts.tests.factories import AccountFactory, ContactFactory, ContractFactory, GoalFactory
from recommendations.models import ActionType, Evidence, PlaybookConfig, Recommendation
from recommendations.services import analysis
from recommendations.tests.engine import T0, Ingest, open_recs, sweep
from recommendations.tests.factories import RecommendationFactory
from salesai import clock
from signals.models import Signal
from signals.storing import record_signal
from signals.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run on-commit work (announcements → analysis) as it is queued."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def acme():
    account = AccountFactory(name="Acme", domain="acme.com", arr=Decimal("48000"), seats=50)
    dana = ContactFactory(account=account, name="Dana Lee", email="dana@acme.com", seniority="director")
    sam = ContactFactory(account=account, name="Sam Roe", email="sam@acme.com", seniority="manager")
    return account, dana, sam


@pytest.fixture
def ingest():
    return Ingest()


def at(days: float, hours: float = 0, minutes: int = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours, minutes=minutes)


def send(ingest, on_commit, when, kind, **fields):
    with time_machine.travel(when, tick=False), on_commit():
        return ingest.signal(kind, when, **fields)


def reply(on_commit, contact, when, intent, *, sentiment=0.0, in_reply_to=None, properties=None, auto=False):
    """An inbound reply as the e-mail ingestion stores it (intent, sentiment, thread)."""
    with time_machine.travel(when, tick=False), on_commit():
        signal, _ = record_signal(
            source=SourceFactory(name="inbound-email", kind="email"),
            kind=Signal.Kind.EMAIL_REPLY,
            external_id=f"<{uuid.uuid4().hex}@mail.acme.com>",
            occurred_at=when,
            contact=contact,
            intent=intent,
            intent_confidence=0.9,
            sentiment=sentiment,
            is_auto_reply=auto,
            in_reply_to=in_reply_to,
            properties=properties or {"subject": "Re: Quick question"},
        )
    return signal


def sent_signal(contact):
    return Signal.objects.filter(kind="email_sent", contact=contact).latest("occurred_at")


def one(account, action_type) -> Recommendation:
    recs = [r for r in open_recs(account) if r.action_type == action_type]
    assert len(recs) == 1, [(r.action_type, r.title) for r in open_recs(account)]
    return recs[0]


# --- 1. pricing interest --------------------------------------------------------------------------


def test_pricing_visits_become_a_recommendation_naming_dates_and_count(acme, ingest, on_commit):
    account, dana, _ = acme
    for day in (0, 1):
        send(ingest, on_commit, at(day, 5, 2), "page_view", email=dana.email, properties={"path": "/pricing"})
    assert not open_recs(account)
    send(ingest, on_commit, at(3, 5, 2), "page_view", email=dana.email, properties={"path": "/pricing"})

    rec = one(account, ActionType.PRICING_OUTREACH)
    assert rec.reasoning.startswith("Acme visited your pricing page 3 times since Mon 16 Nov (last Thu 19 Nov 14:02)")
    assert rec.contact == dana
    assert rec.status == Recommendation.Status.PENDING
    visits = list(Signal.objects.filter(kind="page_view", account=account).order_by("occurred_at"))
    assert set(rec.evidence.values_list("signal_id", flat=True)) == {s.pk for s in visits}
    assert "Dana Lee viewed /pricing on Thu 19 Nov 14:02" in rec.evidence.values_list("statement", flat=True)
    assert rec.draft_body.startswith("Hi Dana,")
    assert "pricing page" not in rec.draft_body.lower() and "visit" not in rec.draft_body.lower()
    assert rec.rationale  # the playbook's stated reason (no history yet)
    assert "ages out on Mon 23 Nov" in rec.counterfactual
    assert 0 < rec.priority <= 100 and rec.stakes == Decimal("48000.00")
    assert rec.findings[0]["criteria"][0]["state"] == "met"
    picture = AccountPicture.objects.get(account=account)
    assert picture.features["pricing_visits_7d"] == 3
    assert picture.next_check_at == at(7, 5, 2)  # the first visit ages out
    assert not Signal.objects.filter(account=account, analyzed_at__isnull=True).exists()

    # a fourth visit updates the same recommendation instead of duplicating it
    send(ingest, on_commit, at(4, 1), "page_view", email=dana.email, properties={"path": "/pricing"})
    rec.refresh_from_db()
    assert rec.version == 2 and "4 times" in rec.reasoning
    assert rec.evidence.count() == 4
    assert Recommendation.objects.filter(account=account, action_type=ActionType.PRICING_OUTREACH).count() == 1

    # a week later the burst has aged out: withdrawn, with the reason kept
    out = sweep(at(11, 6))
    assert "1 accounts analysed" in out or "accounts analysed" in out
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.WITHDRAWN
    assert "pricing visits remain within 7 days" in rec.closed_reason


SCANNER = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0) Mimecast-LinkScanner"
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)


def test_a_mail_scanner_opening_every_pricing_link_is_not_pricing_interest(acme, ingest, on_commit):
    """Seconds after an outreach e-mail lands, the gateway's scanner opens each of its links."""
    account, dana, _ = acme
    for n, path in enumerate(["/pricing", "/pricing#business", "/pricing/compare", "/pricing"]):
        send(ingest, on_commit, at(0, 1) + dt.timedelta(days=n), "page_view", email=dana.email,
             properties={"path": path, "user_agent": SCANNER})  # fmt: skip
    assert not open_recs(account)
    assert Signal.objects.filter(account=account, kind="page_view", is_bot=True).count() == 4  # stored, flagged
    assert AccountPicture.objects.get(account=account).features["pricing_visits_7d"] == 0

    # the same clicks a second apart from a browser's user agent are one visit, not three
    for n, path in enumerate(["/pricing", "/pricing#business", "/pricing/compare"]):
        send(ingest, on_commit, at(4, 2) + dt.timedelta(milliseconds=400 * n), "page_view", email=dana.email,
             properties={"path": path, "user_agent": BROWSER})  # fmt: skip
    assert not open_recs(account)
    # Dana coming back on two more days is interest: three visits, the burst's first view as evidence
    for day in (5, 6):
        send(ingest, on_commit, at(day, 3), "page_view", email=dana.email,
             properties={"path": "/pricing", "user_agent": BROWSER})  # fmt: skip
    rec = one(account, ActionType.PRICING_OUTREACH)
    assert "pricing page 3 times" in rec.reasoning
    assert rec.evidence.count() == 3
    assert not rec.evidence.filter(signal__is_bot=True).exists()


def test_findings_about_one_account_combine_into_one_story(acme, ingest, on_commit):
    account, dana, _ = acme
    ContractFactory(account=account, value=Decimal("48000"), renewal_date=dt.date(2027, 1, 22))
    send(ingest, on_commit, at(0, 1), "email_sent", email=dana.email, properties={"subject": "Quick question"})
    reply(on_commit, dana, at(2, 3), "interested", sentiment=0.7, in_reply_to=sent_signal(dana))
    send(ingest, on_commit, at(2, 6), "email_sent", email=dana.email, properties={"subject": "Re: Quick question"})
    for day in (0, 1, 3):
        send(ingest, on_commit, at(day, 5, 2), "page_view", email=dana.email, properties={"path": "/pricing"})
    rec = one(account, ActionType.PRICING_OUTREACH)
    assert rec.reasoning == (
        "Acme visited your pricing page 3 times since Mon 16 Nov (last Thu 19 Nov 14:02), "
        "Dana Lee's reply on 18 Nov was positive, and their $48,000 contract renews in 64 days (22 Jan)."
    )


# --- 2. reply waiting / not now -------------------------------------------------------------------


def test_interested_reply_waits_until_the_rep_answers(acme, ingest, on_commit):
    account, dana, _ = acme
    send(ingest, on_commit, at(0), "email_sent", email=dana.email, properties={"subject": "Quick question"})
    answer = reply(on_commit, dana, at(1, 5, 30), "question", sentiment=0.2, in_reply_to=sent_signal(dana))
    rec = one(account, ActionType.REPLY)
    assert "Dana Lee replied on Tue 17 Nov with a question" in rec.reasoning
    assert list(rec.evidence.values_list("signal_id", flat=True)) == [answer.pk]
    assert "Tue 17 Nov 14:30" in rec.evidence.get().statement
    assert rec.draft_subject == "Re: Re: Quick question" or rec.draft_subject.startswith("Re:")
    assert rec.counterfactual == "If anyone had e-mailed Dana Lee after 17 Nov."

    send(ingest, on_commit, at(1, 8), "email_sent", email=dana.email, properties={"subject": "Re: Quick question"})
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.WITHDRAWN
    assert "answered" in rec.closed_reason


def test_not_now_schedules_a_check_in_for_the_date_named(acme, ingest, on_commit):
    account, dana, _ = acme
    send(ingest, on_commit, at(0), "email_sent", email=dana.email)
    reply(on_commit, dana, at(1), "not_now", properties={"check_in_at": "2027-01-11"}, in_reply_to=sent_signal(dana))
    assert not open_recs(account)
    picture = AccountPicture.objects.get(account=account)
    assert picture.next_check_at == dt.datetime(2027, 1, 11, 9, 0, tzinfo=dt.UTC)
    sweep(dt.datetime(2027, 1, 11, 9, 5, tzinfo=dt.UTC))
    rec = one(account, ActionType.CHECK_IN)
    assert "said “not now” on Tue 17 Nov" in rec.reasoning and "Mon 11 Jan" in rec.reasoning


# --- 3. unanswered outreach -----------------------------------------------------------------------


def test_unanswered_outreach_follows_up_after_three_business_days(acme, ingest, on_commit):
    account, dana, _ = acme
    send(ingest, on_commit, at(3, 1), "email_sent", email=dana.email, properties={"subject": "Quick question"})  # Thu
    picture = AccountPicture.objects.get(account=account)
    assert picture.next_check_at == at(8, 1)  # Thu + 3 working days = Tue
    sweep(at(7, 12))
    assert not open_recs(account)
    sweep(at(8, 1))
    rec = one(account, ActionType.FOLLOW_UP)
    assert rec.reasoning.startswith("1 e-mail to Dana Lee since Thu 19 Nov has had no reply (last Thu 19 Nov)")
    assert "“Quick question”" in rec.evidence.get().statement
    assert rec.why_now == "3 working days passed on Tue 24 Nov since the last e-mail on Thu 19 Nov."

    reply(on_commit, dana, at(8, 5), "interested", sentiment=0.5, in_reply_to=sent_signal(dana))
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.WITHDRAWN
    assert "replied" in rec.closed_reason
    assert one(account, ActionType.REPLY).contact == dana


def test_after_the_last_attempt_suggest_another_contact(acme, ingest, on_commit):
    account, dana, sam = acme
    for day in (0, 7, 14):
        send(ingest, on_commit, at(day), "email_sent", email=dana.email, properties={"subject": f"Note {day}"})
    sweep(at(17, 1))
    rec = one(account, ActionType.CHANGE_CONTACT)
    assert rec.contact == sam
    assert "3 e-mails to Dana Lee since Mon 16 Nov have had no reply (last Mon 30 Nov)" in rec.reasoning
    assert not [r for r in open_recs(account) if r.action_type == ActionType.FOLLOW_UP]


def test_unsubscribe_suppresses_the_contact_in_every_playbook(acme, ingest, on_commit):
    account, dana, sam = acme
    send(ingest, on_commit, at(0), "email_sent", email=dana.email)
    reply(on_commit, dana, at(1), "unsubscribe", sentiment=-0.2, in_reply_to=sent_signal(dana))
    for day in (1, 2, 3):
        send(ingest, on_commit, at(day, 2), "page_view", email=dana.email, properties={"path": "/pricing"})
    sweep(at(10))
    picture = AccountPicture.objects.get(account=account)
    assert picture.features["suppressed"] == [
        {"contact_id": dana.pk, "contact_name": "Dana Lee", "reason": "unsubscribed on 17 Nov 2026"}
    ]
    assert all(r.contact_id != dana.pk for r in Recommendation.objects.filter(account=account))


def test_a_bounced_address_is_suppressed_for_outreach(acme, ingest, on_commit):
    account, dana, sam = acme
    send(ingest, on_commit, at(0), "email_sent", email=dana.email)
    send(ingest, on_commit, at(0, 1), "email_bounced", email=dana.email)
    sweep(at(10))
    suppressed = AccountPicture.objects.get(account=account).features["suppressed"]
    assert {"contact_id": dana.pk, "contact_name": "Dana Lee", "reason": "e-mail bounced on 16 Nov 2026"} in suppressed
    assert all(r.contact_id != dana.pk for r in open_recs(account))


# --- 4. renewal -----------------------------------------------------------------------------------


def test_renewal_entering_the_window_with_low_engagement_escalates(acme):
    account, *_ = acme
    contract = ContractFactory(account=account, value=Decimal("48000"), renewal_date=(at(100)).date())
    with time_machine.travel(at(0), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    assert not open_recs(account)
    assert AccountPicture.objects.get(account=account).next_check_at == dt.datetime.combine(
        at(10).date(), dt.time(), tzinfo=dt.UTC
    )
    sweep(at(10, 1))
    rec = one(account, ActionType.CHURN_ESCALATION)
    assert rec.reasoning.startswith("Their $48,000 contract renews in 90 days (24 Feb)")
    assert rec.stakes == Decimal("48000.00")
    fact = rec.evidence.get(fact_type="contract")
    assert fact.fact_id == contract.pk and "$48,000" in fact.statement and "24 Feb 2027" in fact.statement


def test_renewal_of_an_engaged_account_is_renewal_outreach_and_renewing_withdraws_it(acme, ingest, on_commit):
    account, dana, _ = acme
    contract = ContractFactory(account=account, value=Decimal("48000"), renewal_date=(at(58)).date())
    reply(on_commit, dana, at(0), "interested", sentiment=0.6)
    send(ingest, on_commit, at(0, 2), "email_sent", email=dana.email)
    for hour in range(8):
        send(ingest, on_commit, at(0, 3, hour), "page_view", email=dana.email, properties={"path": "/docs"})
    rec = one(account, ActionType.RENEWAL_OUTREACH)
    assert rec.reasoning.startswith("Their $48,000 contract renews in 58 days (13 Jan)")
    contract.status = "renewed"
    contract.save()
    sweep(at(1))  # the renewal window boundary is not due yet: analyse by hand as the CRM sync would
    with time_machine.travel(at(1), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.WITHDRAWN and "no longer active" in rec.closed_reason


# --- 5. going dark --------------------------------------------------------------------------------


def test_engaged_account_silent_for_three_weeks_is_re_engaged(acme, ingest, on_commit):
    account, dana, _ = acme
    with time_machine.travel(at(10, 3), tick=False), on_commit():
        ingest.send(
            *[
                {
                    "kind": "product_usage",
                    "occurred_at": at(day, 2).isoformat(),
                    "contact_email": dana.email,
                    "name": "Report Run",
                }
                for day in range(11)
            ]
        )
    picture = AccountPicture.objects.get(account=account)
    assert picture.next_check_at == at(31, 2)
    sweep(at(31, 3))
    rec = one(account, ActionType.RE_ENGAGE)
    assert (
        "Acme has been silent for 21 days since Thu 26 Nov, after 11 signals on 11 days in the 4 weeks before"
        in rec.reasoning
    )


# --- 6. goal crossed ------------------------------------------------------------------------------


def test_seat_goal_crossing_proposes_expansion_once_per_crossing(acme, ingest, on_commit):
    account, dana, _ = acme
    goal = GoalFactory(account=account, name="Seat usage reaches 80%", threshold=0.8)
    events = [
        {"kind": "product_usage", "occurred_at": at(1).isoformat(), "user_id": f"u-{i}", "account_domain": "acme.com"}
        for i in range(41)
    ]
    with time_machine.travel(at(1, 1), tick=False), on_commit():
        ingest.send(*events)
    rec = one(account, ActionType.EXPANSION)
    assert "82% (41 of 50 seats active in 7 days), past the goal of 80%" in rec.reasoning
    goal.refresh_from_db()
    assert goal.is_met and goal.crossings == 1
    assert rec.evidence.get().fact_type == "goal"
    # rejected: still above the threshold, so no second recommendation for the same crossing
    Recommendation.objects.filter(pk=rec.pk).update(status=Recommendation.Status.REJECTED)
    with time_machine.travel(at(2), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    assert not [r for r in open_recs(account) if r.action_type == ActionType.EXPANSION]
    # usage falls back (the week ages out): re-armed
    sweep(at(9))
    goal.refresh_from_db()
    assert not goal.is_met and goal.crossings == 1


# --- 7. speed to lead -----------------------------------------------------------------------------


def test_demo_request_is_an_urgent_recommendation(acme, ingest, on_commit):
    account, dana, _ = acme
    send(ingest, on_commit, at(0, 1), "form_submitted", email=dana.email, name="Demo Requested")
    rec = one(account, ActionType.SPEED_TO_LEAD)
    assert rec.reasoning.startswith("Dana Lee submitted “Demo Requested” on Mon 16 Nov 10:00")
    assert rec.priority >= 70
    assert rec.draft_body.startswith("Hi Dana,")
    # the owner hears of it at once, without opening the inbox
    (notice,) = [m for m in mail.outbox if f"/recommendations/{rec.pk}/" in m.body]
    assert notice.to == [account.owner.email]


# --- the engine's guarantees ----------------------------------------------------------------------


def test_analysis_is_idempotent(acme, ingest, on_commit):
    account, dana, _ = acme
    for day in (0, 1, 2):
        send(ingest, on_commit, at(day), "page_view", email=dana.email, properties={"path": "/pricing"})
    rec = one(account, ActionType.PRICING_OUTREACH)
    evidence = Evidence.objects.count()
    with time_machine.travel(at(2), tick=False):
        for _ in range(3):
            analysis.analyze_account(account_id=account.pk, force=True)
    rec2 = one(account, ActionType.PRICING_OUTREACH)
    assert (rec2.pk, rec2.version, rec2.reasoning) == (rec.pk, rec.version, rec.reasoning)
    assert Evidence.objects.count() == evidence


def test_a_burst_of_fifty_signals_is_analysed_once(acme, on_commit):
    account, dana, _ = acme
    source = SourceFactory(name="burst")
    with time_machine.travel(at(0), tick=False), on_commit(), transaction.atomic():
        for i in range(50):
            record_signal(
                source=source,
                kind="page_view",
                external_id=f"b{i}",
                occurred_at=at(0),
                contact=dana,
                properties={"path": "/docs"},
            )
    picture = AccountPicture.objects.get(account=account)
    assert picture.version == 1  # 50 announcements, one full analysis
    assert not Signal.objects.filter(account=account, analyzed_at__isnull=True).exists()


def _signals(account, contact, n: int) -> None:
    source = SourceFactory(name=f"bulk-{n}")
    Signal.objects.bulk_create(
        Signal(
            source=source,
            account=account,
            contact=contact,
            kind=["page_view", "product_usage"][i % 2],
            external_id=f"s{i}",
            occurred_at=at(0) - dt.timedelta(hours=i),
            received_at=at(0),
            properties={"path": "/pricing"} if i % 2 == 0 else {},
        )
        for i in range(n)
    )


def test_analysis_has_a_fixed_query_budget(acme):
    small = AccountFactory(domain="small.example")
    small_contact = ContactFactory(account=small)
    big = AccountFactory(domain="big.example")
    big_contact = ContactFactory(account=big)
    _signals(small, small_contact, 8)
    _signals(big, big_contact, 600)
    counts = []
    with time_machine.travel(at(0, 1), tick=False):
        for account in (small, big):
            analysis.analyze_account(account_id=account.pk, force=True)  # first run creates the recommendations
            with CaptureQueriesContext(connection) as ctx:
                analysis.analyze_account(account_id=account.pk, force=True)
            counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 30


def test_query_budget_holds_for_a_first_analysis_too(acme, django_assert_max_num_queries):
    account, dana, _ = acme
    _signals(account, dana, 500)
    with time_machine.travel(at(0, 1), tick=False), django_assert_max_num_queries(60):
        analysis.analyze_account(account_id=account.pk, force=True)


def test_sweep_expires_and_wakes_recommendations(acme):
    account, *_ = acme
    with time_machine.travel(at(0), tick=False):
        stale = RecommendationFactory(account=account, expires_at=at(1), action_type=ActionType.RE_ENGAGE)
        snoozed = RecommendationFactory(
            account=account,
            status=Recommendation.Status.SNOOZED,
            snoozed_until=at(2),
            expires_at=at(10),
            action_type=ActionType.EXPANSION,
        )
    out = sweep(at(3))
    stale.refresh_from_db()
    snoozed.refresh_from_db()
    assert stale.status == Recommendation.Status.EXPIRED and "Expired on" in stale.closed_reason
    assert snoozed.status == Recommendation.Status.PENDING
    assert "1 recommendations expired, 1 woken" in out


def test_sweep_analyses_only_due_accounts(acme):
    due = AccountFactory(domain="due.example")
    later = AccountFactory(domain="later.example")
    AccountPicture.objects.filter(account=due).update(next_check_at=at(0))
    AccountPicture.objects.filter(account=later).update(next_check_at=at(5))
    with clock.as_of(at(1)):
        result = analysis.sweep_due_accounts()
    assert result.analysed == 1
    assert AccountPicture.objects.get(account=due).version == 1
    assert AccountPicture.objects.get(account=later).version == 0


def test_sweep_pages_through_many_due_accounts_once_each_even_when_one_fails(acme, monkeypatch):
    """Keyset paging over (next_check_at, account): every due account once, batch after batch, and a
    failing one is neither retried in a loop nor a reason to stop."""
    accounts = [AccountFactory(domain=f"due{i}.example") for i in range(7)]
    for i, account in enumerate(accounts):  # two share a time: the account id breaks the tie
        AccountPicture.objects.filter(account=account).update(next_check_at=at(0, i // 2))
    broken = accounts[3].pk
    real = analysis.analyze_account
    calls: list[int] = []

    def analyse(*, account_id, **kwargs):
        calls.append(account_id)
        if account_id == broken:
            raise RuntimeError("a broken account")
        return real(account_id=account_id, **kwargs)

    monkeypatch.setattr(analysis, "analyze_account", analyse)
    with clock.as_of(at(1)):
        result = analysis.sweep_due_accounts(batch_size=2, time_budget=None)
    assert sorted(calls) == sorted(a.pk for a in accounts)
    assert result.analysed == 6 and result.batches == 4


def test_a_disabled_playbook_proposes_nothing_and_withdraws_its_open_ones(acme, ingest, on_commit):
    account, dana, _ = acme
    send(ingest, on_commit, at(0), "form_submitted", email=dana.email, name="Demo Requested")
    rec = one(account, ActionType.SPEED_TO_LEAD)
    PlaybookConfig.objects.create(code="speed_to_lead", enabled=False)
    with time_machine.travel(at(0, 1), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.WITHDRAWN and "turned off" in rec.closed_reason


def test_configured_threshold_applies(acme, ingest, on_commit):
    account, dana, _ = acme
    PlaybookConfig.objects.create(code="pricing_interest", params={"min_visits": 2, "path_contains": ["/plans"]})
    send(ingest, on_commit, at(0), "page_view", email=dana.email, properties={"path": "/plans"})
    send(ingest, on_commit, at(1), "page_view", email=dana.email, properties={"url": "https://x.io/plans?a=1"})
    assert "2 times" in one(account, ActionType.PRICING_OUTREACH).reasoning


def test_rationale_quotes_this_installations_record_when_there_is_enough(acme):
    account, dana, _ = acme
    source = SourceFactory(name="history")
    for i in range(12):
        other = AccountFactory(domain=f"hist{i}.example")
        when = at(-60 + i)
        RecommendationFactory(
            account=other,
            playbook="pricing_interest",
            status=Recommendation.Status.EXECUTED,
            created_at=when,
            updated_at=when,
        )
        if i < 5:
            record_signal(
                source=source,
                kind="email_reply",
                external_id=f"h{i}",
                occurred_at=when + dt.timedelta(days=2),
                account=other,
                intent="interested",
            )
    _signals(account, dana, 9)
    with time_machine.travel(at(0, 1), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    rec = one(account, ActionType.PRICING_OUTREACH)
    assert rec.rationale == (
        "5 of 12 pricing-interest e-mails sent from salesai in the last year got a reply within 5 days (42%)."
    )


def test_goal_state_is_updated_by_analysis(acme):
    account, *_ = acme
    goal = GoalFactory(account=account, metric=Goal.Metric.ACTIVE_USERS_7D, threshold=0, comparator="gte")
    with time_machine.travel(at(0), tick=False):
        analysis.analyze_account(account_id=account.pk, force=True)
    goal.refresh_from_db()
    assert goal.is_met and goal.crossings == 1 and goal.last_crossed_at == at(0)


# --- replies through the public inbound e-mail endpoint --------------------------------------------


def _inbound(client, email_auth, *, text: str, when: dt.datetime, message_id: str):
    from signals.tests.test_inbound import sendgrid_payload

    payload = sendgrid_payload(
        text=text,
        sender="Dana Lee <dana@acme.com>",
        message_id=message_id,
        in_reply_to=None,
        date=when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    )
    with time_machine.travel(when, tick=False):
        response = client.post("/api/v1/inbound/email", payload, **email_auth)
    assert response.status_code in (200, 201), response.content
    return response


@pytest.fixture
def email_auth():
    import base64

    from signals.sources import create_source

    _, write_key = create_source(name="inbound-mail", kind="email")
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}


def test_a_reply_through_the_inbound_endpoint_becomes_a_reply_recommendation(
    acme, ingest, on_commit, client, email_auth
):
    account, dana, _ = acme
    send(ingest, on_commit, at(0), "email_sent", email=dana.email, properties={"subject": "Quick question"})
    # analysed when it arrives (not days later, when a reply this old would be born expired)
    with time_machine.travel(at(1, 5), tick=False), on_commit():
        _inbound(
            client,
            email_auth,
            text="Sounds great, can we talk Tuesday at 2pm?",
            when=at(1, 5),
            message_id="<r1@acme.com>",
        )
    stored = Signal.objects.get(kind="email_reply", account=account)
    assert stored.intent == "interested"
    rec = one(account, ActionType.REPLY)
    assert rec.reasoning.startswith("Dana Lee replied on Tue 17 Nov with interested")
    assert list(rec.evidence.values_list("signal_id", flat=True)) == [stored.pk]


def test_an_unsubscribe_through_the_inbound_endpoint_suppresses_the_contact(
    acme, ingest, on_commit, client, email_auth
):
    account, dana, sam = acme
    send(ingest, on_commit, at(0), "email_sent", email=dana.email, properties={"subject": "Quick question"})
    with on_commit():
        _inbound(
            client, email_auth, text="Please remove me from your mailing list.", when=at(1), message_id="<r2@acme.com>"
        )
    sweep(at(10))
    suppressed = AccountPicture.objects.get(account=account).features["suppressed"]
    assert suppressed[0]["contact_id"] == dana.pk
    assert not [r for r in Recommendation.objects.filter(account=account) if r.contact_id == dana.pk]


def test_a_held_coalescing_claim_queues_no_second_analysis(acme, on_commit):
    from django.core.cache import cache

    from recommendations.services.analysis import queued_key
    from signals.dispatch import signals_stored

    account, *_ = acme
    cache.add(queued_key(account.pk), 1, timeout=10)  # an analysis is already queued for this account
    with on_commit():
        signals_stored.send(sender=Signal, signal_ids=[1], account_ids=[account.pk])
    assert AccountPicture.objects.get(account=account).version == 0
    cache.delete(queued_key(account.pk))
    with on_commit():
        signals_stored.send(sender=Signal, signal_ids=[1], account_ids=[account.pk])
    assert AccountPicture.objects.get(account=account).version == 1


def test_the_beat_task_sweeps_due_accounts(acme):
    from recommendations.tasks import sweep_due_accounts_task

    account, *_ = acme
    AccountPicture.objects.filter(account=account).update(next_check_at=clock.now() - dt.timedelta(minutes=1))
    sweep_due_accounts_task.delay()
    assert AccountPicture.objects.get(account=account).version == 1
