"""The learning through the database: retraining stores versions, analysis reads them (calibrated
confidence with its note, peers' rationale, contact choice), fit lands on the account; learning off
leaves everything hand-set."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from accounts.models import Opportunity
from accounts.tests.factories import AccountFactory, ContactFactory, OpportunityFactory, UserFactory
from recommendations.learning import store, training
from recommendations.learning.models import LearnedModel, RecommendationOutcome
from recommendations.models import ActionType, Recommendation, Review
from recommendations.tests.engine import T0, Ingest
from recommendations.tests.factories import RecommendationFactory
from recommendations.tests.test_api import client_for
from salesai import clock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_models():
    store.forget()
    yield
    store.forget()


def _history(owner, *, n=60, reject_directors=True, segment="mid_market"):
    """``n`` reviewed pricing recommendations of ``owner``'s accounts: directors rejected as the wrong
    contact, VPs approved; half of the VPs' e-mails answered positively."""
    account = AccountFactory(owner=owner, segment=segment)
    for i in range(n):
        seniority = "director" if i % 2 else "vp"
        contact = ContactFactory(account=account, seniority=seniority)
        rec = RecommendationFactory(account=account, contact=contact, status="executed")
        rejected = reject_directors and seniority == "director"
        RecommendationOutcome.objects.create(
            recommendation=rec, account=account, playbook="pricing_interest", action_type=ActionType.PRICING_OUTREACH,
            segment=segment, seniority=seniority, features={"prior": 0.6, "urgency": 0.6, "owner": owner.pk},
            review="rejected" if rejected else "approved", reject_reason="wrong_contact" if rejected else "",
            reviewed_at=T0 - dt.timedelta(days=2), sent=not rejected, sent_at=T0 - dt.timedelta(days=2),
            result=("not_sent" if rejected else ("positive_reply" if i % 4 == 0 else "silence")),
            created_at=T0 - dt.timedelta(days=3), updated_at=T0,
        )  # fmt: skip


def _pricing_visits(account, email, capture):
    """Three pricing visits on three days, each analysed at its simulated time."""
    ingest = Ingest()
    for day in range(3):
        when = T0 + dt.timedelta(days=day, hours=5)
        with time_machine.travel(when, tick=False), capture(execute=True):
            ingest.signal("page_view", when, email=email, properties={"path": "/pricing"})


def _retrain():
    with time_machine.travel(T0, tick=False):
        return training.retrain(now=T0)


def test_retraining_stores_a_version_with_metrics_and_only_when_something_changed():
    _history(UserFactory())
    first = _retrain()
    assert first["confidence"] == {"pricing_interest": 60}
    model = LearnedModel.objects.get(kind="confidence", key="pricing_interest")
    assert model.version == 1 and model.n_samples == 60
    assert model.metrics["brier"] < model.metrics["brier_base_rate"]
    assert model.params["coef"] is not None and model.params["features"][0] == "prior"
    _retrain()
    assert LearnedModel.objects.filter(kind="confidence", key="pricing_interest").count() == 1  # nothing new


def test_analysis_shows_calibrated_confidence_with_its_note_and_peers_rationale(django_capture_on_commit_callbacks):
    owner = UserFactory()
    _history(owner, reject_directors=False)
    _retrain()
    account = AccountFactory(owner=owner, segment="mid_market", arr=Decimal("40000"))
    vp = ContactFactory(account=account, seniority="vp", email="vp@acme.example")
    _pricing_visits(account, vp.email, django_capture_on_commit_callbacks)
    rec = Recommendation.objects.get(account=account, action_type=ActionType.PRICING_OUTREACH)
    # all 60 similar (and so the installation's record) were approved; the playbook's own 0.65 still weighs
    assert 0.9 < rec.confidence < 1 and rec.findings[0]["confidence"] == 0.65
    assert rec.confidence_note.startswith(f"{rec.confidence:.0%} chance a rep approves it; ")
    assert "of these got a positive reply or better" in rec.confidence_note
    assert rec.rationale.startswith("Of 30 pricing-interest e-mails to mid-market VPs in the last 90 days, 15 got")
    assert rec.findings[0]["features"]["prior"] > 0
    listed = client_for(owner).get("/api/v1/recommendations").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    assert items[0]["confidence_note"] == rec.confidence_note


def test_wrong_contact_rejections_make_the_next_one_go_to_someone_else(django_capture_on_commit_callbacks):
    owner = UserFactory()
    _history(owner)
    _retrain()
    account = AccountFactory(owner=owner, segment="mid_market")
    director = ContactFactory(account=account, seniority="director", email="dir@acme.example")
    manager = ContactFactory(account=account, seniority="manager", email="mgr@acme.example")
    _pricing_visits(account, director.email, django_capture_on_commit_callbacks)  # the director is the one who looked
    rec = Recommendation.objects.get(account=account, action_type=ActionType.PRICING_OUTREACH)
    assert rec.contact == manager


def test_another_reps_wrong_contact_rejections_do_not_change_this_reps_choice(django_capture_on_commit_callbacks):
    _history(UserFactory())
    _retrain()
    account = AccountFactory(owner=UserFactory(), segment="mid_market")
    director = ContactFactory(account=account, seniority="director", email="dir@acme.example")
    ContactFactory(account=account, seniority="manager", email="mgr@acme.example")
    _pricing_visits(account, director.email, django_capture_on_commit_callbacks)
    assert Recommendation.objects.get(account=account, action_type=ActionType.PRICING_OUTREACH).contact == director


def test_fit_from_won_and_lost_deals_lands_on_the_account_with_its_factors():
    for i in range(30):
        good = i % 2 == 0
        account = AccountFactory(segment="mid_market" if good else "smb", seats=80 if good else None)
        OpportunityFactory(account=account, status=Opportunity.Status.WON if good else Opportunity.Status.LOST,
                           stage=Opportunity.Stage.WON if good else Opportunity.Stage.LOST)  # fmt: skip
    fresh_good = AccountFactory(segment="mid_market", seats=100)
    fresh_bad = AccountFactory(segment="smb", seats=None)
    result = _retrain()
    assert result["fit"]["labelled"] == 30
    fresh_good.refresh_from_db(), fresh_bad.refresh_from_db()
    assert fresh_good.fit_score > 0.7 > 0.3 > fresh_bad.fit_score
    assert fresh_good.fit_summary.startswith("fits: mid-market, 40–200 seats")
    assert fresh_bad.fit_summary.startswith("against: ") and "SMB" in fresh_bad.fit_summary


def test_fit_is_neutral_and_says_so_with_few_deals():
    account = AccountFactory()
    OpportunityFactory(account=account, status=Opportunity.Status.WON, stage=Opportunity.Stage.WON)
    _retrain()
    account.refresh_from_db()
    assert account.fit_score is None and account.fit_summary.startswith("Fit is neutral: 1 won or lost deals")


def test_learning_off_trains_nothing_and_keeps_the_hand_set_confidence(django_capture_on_commit_callbacks):
    owner = UserFactory()
    _history(owner, reject_directors=False)
    with override_settings(LEARNING_ENABLED=False):
        assert _retrain() == {"skipped": "learning is off (LEARNING_ENABLED=false)"}
        account = AccountFactory(owner=owner)
        vp = ContactFactory(account=account, seniority="vp", email="vp@acme.example")
        _pricing_visits(account, vp.email, django_capture_on_commit_callbacks)
    rec = Recommendation.objects.get(account=account)
    assert not LearnedModel.objects.exists()
    assert rec.confidence == rec.findings[0]["confidence"] == 0.65 and rec.confidence_note == ""


def test_garbage_in_a_stored_feature_does_not_break_retraining():
    _history(UserFactory(), n=40)
    RecommendationOutcome.objects.update(features={"prior": "lots", "urgency": None, "owner": "x"})
    RecommendationOutcome.objects.filter(pk=RecommendationOutcome.objects.first().pk).update(features=["not", "a dict"])
    assert _retrain()["confidence"] == {"pricing_interest": 40}


def test_retrain_command_and_admin_action_store_versions():
    _history(UserFactory(), n=10)
    out = io.StringIO()
    with time_machine.travel(T0, tick=False):
        call_command("retrain_learning", stdout=out)
    assert json.loads(out.getvalue())["confidence"] == {"pricing_interest": 10}
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    from django.test import Client  # noqa: PLC0415

    client = Client()
    client.force_login(admin)
    model = LearnedModel.objects.get(kind="confidence", key="pricing_interest")
    page = client.get(f"/admin/recommendations/learnedmodel/{model.pk}/change/")
    assert page.status_code == 200 and "brier_base_rate" in page.content.decode()
    assert client.get("/admin/recommendations/recommendationoutcome/").status_code == 200
    response = client.post("/admin/recommendations/learnedmodel/",
                           {"action": "retrain_now", "_selected_action": [model.pk]}, follow=True)  # fmt: skip
    assert response.status_code == 200 and "Retrained" in response.content.decode()


def _replayable_pricing_history(owner, *, scattered=14, bursts=16, path="/pricing"):
    """Pricing recommendations with their stored visits: ``scattered`` accounts with three visits over
    four days (rejected as not relevant), ``bursts`` with three visits in half an hour (approved). Each
    was decided at T0, after the moment it was proposed (a replay must not see that decision)."""
    from signals.tests.factories import SignalFactory

    for i in range(scattered + bursts):
        account = AccountFactory(owner=owner)
        burst = i >= scattered
        start = T0 - dt.timedelta(days=5 if burst else 10)
        steps = [dt.timedelta(minutes=10 * n) if burst else dt.timedelta(days=2 * n) for n in range(3)]
        for step in steps:
            SignalFactory(account=account, pricing_view=True, occurred_at=start + step, received_at=start + step,
                          properties={"path": path, "url": f"https://salesai.example{path}"})  # fmt: skip
        proposed_at = start + steps[-1] + dt.timedelta(hours=1)
        rec = RecommendationFactory(account=account, status="executed" if burst else "rejected",
                                    playbook="pricing_interest", action_type=ActionType.PRICING_OUTREACH)  # fmt: skip
        Recommendation.objects.filter(pk=rec.pk).update(created_at=proposed_at, updated_at=T0)
        RecommendationOutcome.objects.create(
            recommendation=rec, account=account, playbook="pricing_interest", action_type=ActionType.PRICING_OUTREACH,
            review="approved" if burst else "rejected", reject_reason="" if burst else "not_relevant",
            reviewed_at=T0 - dt.timedelta(hours=1), created_at=T0, updated_at=T0,
        )  # fmt: skip


def test_threshold_proposal_replays_stored_signals_and_applies_only_when_a_manager_accepts():
    from audit.models import AuditEvent
    from recommendations.learning import thresholds
    from recommendations.learning.models import ThresholdProposal
    from recommendations.models import PlaybookConfig

    _replayable_pricing_history(UserFactory())
    result = _retrain()
    assert result["threshold_proposals"] == 1
    proposal = ThresholdProposal.objects.get()
    # a window of 4 days no longer holds visits spread over four days; every half-hour burst still fires
    assert (proposal.param, proposal.current_value, proposal.proposed_value) == ("window_days", 7, 4)
    assert proposal.effect["false_alarms"] == [14, 0] and proposal.effect["hits"] == [16, 16]
    assert proposal.effect["replayed"] == 30 and proposal.effect["over_budget"] is True
    assert "window_days 7 → 4" in proposal.summary and "per rep per day" in proposal.summary
    assert not PlaybookConfig.objects.exists()  # never silently
    manager = UserFactory()
    thresholds.accept_proposal(proposal=proposal, user=manager, now=T0)
    assert PlaybookConfig.objects.get(code="pricing_interest").params == {"window_days": 4}
    event = AuditEvent.objects.get(action="learning.threshold_accepted")
    assert event.data["old"] is None and event.data["new"] == 4 and event.actor == manager
    thresholds.accept_proposal(proposal=proposal, user=manager, now=T0)  # twice: nothing more
    assert AuditEvent.objects.filter(action="learning.threshold_accepted").count() == 1
    _retrain()  # with the new window the replay finds nothing more to cut
    assert ThresholdProposal.objects.filter(status="proposed").count() == 0


def test_the_replay_reads_the_pages_the_manager_set():
    from recommendations.learning.models import ThresholdProposal
    from recommendations.models import PlaybookConfig

    PlaybookConfig.objects.create(code="pricing_interest", params={"path_contains": ["/plans"]})
    _replayable_pricing_history(UserFactory(), path="/plans")
    _retrain()
    proposal = ThresholdProposal.objects.get()
    assert proposal.effect["replayed"] == 30 and proposal.effect["false_alarms"] == [14, 0]


def test_a_declined_proposal_is_not_made_again_and_the_budget_is_the_managers():
    from recommendations.learning import thresholds
    from recommendations.learning.models import LearningPolicy, ThresholdProposal

    _replayable_pricing_history(UserFactory())
    policy = LearningPolicy.current()
    policy.false_alarm_budget = 5  # 14 false alarms in 6 days for one rep is under it
    thresholds.policy_save(policy=policy, actor=UserFactory(), changed=["false_alarm_budget"])
    _retrain()
    proposal = ThresholdProposal.objects.get()
    assert proposal.effect["over_budget"] is False and "under the budget of 5" in proposal.summary
    thresholds.decline_proposal(proposal=proposal, user=UserFactory(), now=T0)
    _retrain()
    assert list(ThresholdProposal.objects.values_list("status", flat=True)) == ["declined"]


def test_the_learning_policy_refuses_a_budget_out_of_range_in_the_admin(client):
    from audit.models import AuditEvent
    from recommendations.learning.models import LearningPolicy

    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456789")
    client.force_login(admin)
    policy = LearningPolicy.current()
    url = f"/admin/recommendations/learningpolicy/{policy.pk}/change/"
    refused = client.post(url, {"false_alarm_budget": "-1"})
    assert refused.status_code == 200 and "greater than or equal to 0" in refused.content.decode()
    assert client.post(url, {"false_alarm_budget": "abc"}).status_code == 200
    assert LearningPolicy.objects.get(pk=policy.pk).false_alarm_budget == 0.5
    assert client.post(url, {"false_alarm_budget": "1.5"}).status_code == 302
    assert LearningPolicy.current().false_alarm_budget == 1.5
    assert AuditEvent.objects.get(action="learning_policy.updated").data == {"false_alarm_budget": "1.5"}


def _young_pending(owner, n: int, *, playbook="renewal", action=ActionType.CHURN_ESCALATION, prior=0.6):
    """``n`` pending recommendations of a playbook nobody has reviewed yet, each showing its hand-set
    confidence (the first morning of an installation)."""
    features = {"prior": prior, "urgency": 0.6, "action": action, "code": "churn_risk"}
    return [
        RecommendationFactory(account=AccountFactory(owner=owner), playbook=playbook, action_type=action,
                              confidence=prior, created_at=T0, findings=[{"confidence": prior, "features": features}])
        for _ in range(n)
    ]  # fmt: skip


def _decide(rec, owner, decision="approved", reason=""):
    Review.objects.create(recommendation=rec, reviewer=owner, decision=decision, reason=reason, version=rec.version,
                          created_at=clock.now())  # fmt: skip


def test_a_young_playbooks_cards_move_with_each_review_not_only_at_the_hourly_retrain(
    django_capture_on_commit_callbacks,
):
    owner = UserFactory()
    recs = _young_pending(owner, 4)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        for rec in recs[:3]:
            rec.refresh_from_db()  # the card as the rep opens it
            with django_capture_on_commit_callbacks(execute=True):
                _decide(rec, owner)
            Recommendation.objects.filter(pk=rec.pk).update(status=Recommendation.Status.EXECUTED)
    model = LearnedModel.objects.filter(kind="confidence", key="renewal").order_by("-version").first()
    assert model is not None and model.params["n"] == 3
    last = Recommendation.objects.get(pk=recs[3].pk)
    assert last.confidence > 0.6  # three approvals moved the fourth card already
    assert last.confidence_note.startswith(f"{last.confidence:.0%} chance a rep approves it")
    assert RecommendationOutcome.objects.get(recommendation=recs[2]).confidence_shown > 0.6  # it saw the 2 before


def test_a_playbook_with_enough_labels_waits_for_the_hourly_retrain(django_capture_on_commit_callbacks):
    owner = UserFactory()
    _history(owner, reject_directors=False)  # 60 pricing reviews: the estimate no longer moves with one
    _retrain()
    versions = LearnedModel.objects.filter(kind="confidence").count()
    rec = RecommendationFactory(account=AccountFactory(owner=owner), findings=[{"features": {"prior": 0.6}}])
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        _decide(rec, owner, "rejected", "not_relevant")
    assert LearnedModel.objects.filter(kind="confidence").count() == versions
    assert RecommendationOutcome.objects.get(recommendation=rec).review == "rejected"


def test_a_wrong_contact_rejection_moves_the_next_card_to_that_role_the_same_morning(
    django_capture_on_commit_callbacks,
):
    """A mature playbook waits for the hourly retrain, but not after "wrong contact": the rep's next
    card of that playbook to a director shows the verdict at once (and another rep's does not)."""
    owner, other = UserFactory(), UserFactory()
    _history(owner, reject_directors=False)  # 60 pricing reviews, all approved: a mature estimate
    _retrain()
    features = {"prior": 0.6, "urgency": 0.6, "action": ActionType.PRICING_OUTREACH, "code": "repeat_visits"}

    def pending(rep):
        account = AccountFactory(owner=rep)
        return RecommendationFactory(account=account, contact=ContactFactory(account=account, seniority="director"),
                                     created_at=T0, findings=[{"confidence": 0.6, "features": features}])  # fmt: skip

    rejected, mine, theirs = pending(owner), pending(owner), pending(other)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        training.refresh_pending(now=clock.now())
        before = Recommendation.objects.get(pk=mine.pk).confidence
        with django_capture_on_commit_callbacks(execute=True):
            _decide(rejected, owner, "rejected", "wrong_contact")
    after = Recommendation.objects.get(pk=mine.pk)
    # 1 wrong among the last 4 reviews of the role (3 approvals before it): 1 in 5 odds of another
    assert after.confidence == pytest.approx(before * 0.8, abs=0.002)
    assert "this rep called 1 of their last 4 such e-mails to this role the wrong contact" in after.confidence_note
    assert Recommendation.objects.get(pk=theirs.pk).confidence == pytest.approx(before, abs=0.002)


def test_a_failing_quick_retrain_does_not_fail_the_review(django_capture_on_commit_callbacks, monkeypatch, caplog):
    owner = UserFactory()
    recs = _young_pending(owner, 2)

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("recommendations.jobs.enqueue_on_commit", broker_down)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        _decide(recs[0], owner)
    assert RecommendationOutcome.objects.get(recommendation=recs[0]).review == "approved"  # kept
    assert "learn_from_review_failed" in caplog.text
    assert not LearnedModel.objects.filter(kind="confidence", key="renewal").exists()  # the hourly one catches up


def test_learning_off_does_not_retrain_after_a_review(django_capture_on_commit_callbacks):
    owner = UserFactory()
    recs = _young_pending(owner, 2)
    with override_settings(LEARNING_ENABLED=False), django_capture_on_commit_callbacks(execute=True):
        _decide(recs[0], owner)
    assert not LearnedModel.objects.exists()
    assert Recommendation.objects.get(pk=recs[1].pk).confidence == 0.6


def test_two_processes_storing_a_version_of_one_model_at_once_both_land(monkeypatch):
    """The loser of the race for a version number (another process stored it between the read and the
    insert) reads the new latest and stores the next one, instead of failing its retrain."""
    for n in (1, 2):
        store.save_version(kind="confidence", key="renewal", params={"n": n}, metrics={}, n_samples=n, now=T0)
    real_latest, reads = store.latest_version, []

    def read_before_the_other_process_stored_version_2(kind, key):
        reads.append(kind)
        return 1 if len(reads) == 1 else real_latest(kind, key)

    monkeypatch.setattr(store, "latest_version", read_before_the_other_process_stored_version_2)
    row = store.save_version(kind="confidence", key="renewal", params={"n": 3}, metrics={}, n_samples=3, now=T0)
    assert row.version == 3 and len(reads) == 2
    assert list(LearnedModel.objects.filter(key="renewal").order_by("version").values_list("params", flat=True)) == [
        {"n": 1}, {"n": 2}, {"n": 3},
    ]  # fmt: skip
