"""Abuse tests of the executor (issue 13): what reaches a real SMTP server (aiosmtpd on loopback) when
outside data tries to steer what salesai sends, or to whom.

Each test is one finding, tried as an attacker would: signals stored through the ingestion service,
analysis as the worker runs it, approvals through the public API, sends through the one executor.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import json
from decimal import Decimal
from email import message_from_bytes
from email.message import EmailMessage

import pytest
import time_machine

from accounts.models import Contact
from accounts.tests.factories import AccountFactory, ContactFactory, UserFactory
from audit.models import AuditEvent
from recommendations.models import Execution, Recommendation
from recommendations.services import drafts
from recommendations.services import execution as executor
from recommendations.services.review import route_recommendation
from recommendations.tests.factories import RecommendationFactory
from recommendations.tests.test_api import client_for as api_for
from recommendations.tests.test_drafts import FakeLLM
from salesai import clock
from signals.storing import record_signal
from signals.tests.factories import SourceFactory
from trust import services as trust
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(WHEN, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(frozen):
    """Acme with its rep, a CRM contact at acme.com, and a person at a free-mail domain that outside
    data (a forged inbound e-mail, the public website key) attached to Acme."""
    # no undo window: these tests are about what is sent once approved (test_undo_send pins the window)
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep", email="rita@vendor.example", undo_seconds=0)
    acme = AccountFactory(name="Acme", domain="acme.com", owner=rep, arr=Decimal("12000"))  # under the stakes caps
    dana = ContactFactory(account=acme, name="Dana Lee", email="dana@acme.com", origin=Contact.Origin.CRM)
    mallory = ContactFactory(account=acme, name="Mallory", email="mallory@gmail.example", origin=Contact.Origin.SIGNAL)
    return {"rep": rep, "acme": acme, "dana": dana, "mallory": mallory}


def form_from(contact: Contact, *, minutes: int = 0, name: str = "Demo Requested", run=None) -> None:
    """A website form by ``contact``, stored and analysed as the webhook and the worker do."""
    with run(execute=True):
        record_signal(
            source=SourceFactory(name="web"),
            kind="form_submitted",
            external_id=f"form-{contact.pk}-{minutes}",
            occurred_at=WHEN + dt.timedelta(minutes=minutes),
            contact=contact,
            name=name,
        )


def earn_autonomy(domain: str) -> None:
    TrustPolicyFactory(domain=domain, review_sample_rate=0.0)
    give_record(domain, approved=80)


def customer_mail(mailbox) -> list[EmailMessage]:
    """What the executor sent, parsed as a mail client does (long headers unfolded); the rep's own urgent
    notices about new leads go through the same server and are left out."""
    parsed = [
        message_from_bytes(e.original_content or e.content, policy=email.policy.default) for e in mailbox.envelopes
    ]
    return [m for m in parsed if m["X-Salesai-Recommendation"]]


def recipients(mailbox) -> list[str]:
    return [m["To"].rsplit("<", 1)[-1].rstrip(">") for m in customer_mail(mailbox)]


def test_approval_sends_the_version_the_rep_saw_not_a_later_analysis(
    world, frozen, smtp_server, django_capture_on_commit_callbacks
):
    """Finding 1: between approve and execution, a new analysis changed the recipient and the draft,
    and the executor sent the new version as approved by a person."""
    run = django_capture_on_commit_callbacks
    form_from(world["dana"], run=run)
    rec = Recommendation.objects.get(account=world["acme"])
    seen = {"version": rec.version, "subject": rec.draft_subject, "body": rec.draft_body}
    with run(execute=False):  # the executor's message is still on its way when ...
        response = api_for(world["rep"]).post(
            f"/api/v1/recommendations/{rec.pk}/approve", {"version": rec.version}, format="json"
        )
    assert response.status_code == 200, response.content
    frozen.move_to(WHEN + dt.timedelta(minutes=10))
    form_from(world["mallory"], minutes=5, run=run)  # ... outside data makes a newer lead
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False, user_id=world["rep"].pk)

    assert recipients(smtp_server) == ["dana@acme.com"]
    sent = customer_mail(smtp_server)[0]
    assert sent["Subject"] == seen["subject"]
    assert sent.get_content().replace("\r\n", "\n") == seen["body"]
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.EXECUTED and rec.version == seen["version"]
    assert rec.contact_id == world["dana"].pk
    assert Execution.objects.get(recommendation=rec).performed_by == world["rep"]


def test_a_version_no_person_approved_is_not_sent_even_with_the_kill_switch_on(
    world, smtp_server, django_capture_on_commit_callbacks
):
    """Finding 1: ``approved_by_person`` ignored the version, so a changed version ran as a person's
    decision and skipped the kill switch and demotion checks."""
    run = django_capture_on_commit_callbacks
    form_from(world["dana"], run=run)
    rec = Recommendation.objects.get(account=world["acme"])
    with run(execute=False):
        api_for(world["rep"]).post(f"/api/v1/recommendations/{rec.pk}/approve", {"version": rec.version}, format="json")
    # any writer changing it afterwards (a stale analysis, a late LLM rewrite) makes a version nobody approved
    Recommendation.objects.filter(pk=rec.pk).update(
        draft_subject="Updated payment details", contact=world["mallory"], version=rec.version + 1
    )
    trust.set_kill_switch(on=True, user=None, reason="incident")
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False, user_id=world["rep"].pk)

    assert customer_mail(smtp_server) == []
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING
    assert "changed after it was approved" in rec.closed_reason
    assert not Execution.objects.exists()


def test_autonomy_never_emails_outside_the_account_domain(world, smtp_server, django_capture_on_commit_callbacks):
    """Findings 2 + 5, the executor's side: a person outside data attached to the account (a free-mail
    address from a public key or a forged e-mail) got salesai's e-mail on autonomy, from the rep's name."""
    earn_autonomy("speed_to_lead")
    form_from(world["mallory"], run=django_capture_on_commit_callbacks)
    rec = Recommendation.objects.get(account=world["acme"])
    assert rec.status == Recommendation.Status.PENDING
    assert any("mallory@gmail.example is not at acme.com" in reason for reason in rec.trust_decision.reasons)
    with time_machine.travel(WHEN + dt.timedelta(minutes=30), tick=False):
        executor.execute_due_actions()
    assert customer_mail(smtp_server) == []


def test_the_recipient_is_checked_again_at_execution(world, smtp_server):
    """A scheduled autonomous action whose contact is (now) outside the domain and unvouched is not sent."""
    earn_autonomy("pricing_outreach")
    rec = RecommendationFactory(account=world["acme"], contact=world["dana"])
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.SCHEDULED
    Recommendation.objects.filter(pk=rec.pk).update(contact=world["mallory"])  # e.g. routed before this rule
    with time_machine.travel(WHEN + dt.timedelta(minutes=30), tick=False):
        executor.execute_due_actions()
    assert customer_mail(smtp_server) == []
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING and "not at acme.com" in rec.closed_reason


def test_autonomy_may_email_a_crm_contact_and_a_person_at_the_domain(world, smtp_server):
    earn_autonomy("pricing_outreach")
    partner = ContactFactory(account=world["acme"], email="ops@acme-partner.example", origin=Contact.Origin.CRM)
    walk_in = ContactFactory(account=world["acme"], email="sam@eu.acme.com", origin=Contact.Origin.SIGNAL)
    recs = [
        RecommendationFactory(account=world["acme"], contact=partner),
        RecommendationFactory(account=world["acme"], contact=walk_in, action_type="re_engage", playbook="going_dark"),
    ]
    TrustPolicyFactory(domain="re_engage", review_sample_rate=0.0)
    give_record("re_engage", approved=80)
    for rec in recs:
        route_recommendation(recommendation=rec)
        assert rec.status == Recommendation.Status.SCHEDULED, rec.trust_decision.reasons
    with time_machine.travel(WHEN + dt.timedelta(hours=2), tick=False):
        executor.execute_due_actions()
    assert sorted(recipients(smtp_server)) == ["ops@acme-partner.example", "sam@eu.acme.com"]


def test_injected_line_breaks_never_reach_the_subject_header_or_the_first_line(
    world, smtp_server, django_capture_on_commit_callbacks
):
    """Finding 3: the subject was the first line of one rendered template, so a line break in outside
    text (here a form's name; an RFC 2047 subject decodes to the same) put the sender's words at the
    top of the body."""
    run = django_capture_on_commit_callbacks
    form_from(world["dana"], name="Demo\r\nOur bank details changed, pay to GB29 NWBK 6016 1331 9268 19", run=run)
    rec = Recommendation.objects.get(account=world["acme"])
    with run(execute=True):
        api_for(world["rep"]).post(f"/api/v1/recommendations/{rec.pk}/approve", {"version": rec.version}, format="json")
    sent = customer_mail(smtp_server)[0]
    assert "\n" not in sent["Subject"] and "\r" not in sent["Subject"]
    assert sent["Subject"] == "Your request (Demo Our bank details changed, pay to GB29 NWBK 6016 1331 9268 19)"
    body = sent.get_content()
    assert body.splitlines()[0] == "Hi Dana,"
    assert not any(line.startswith("Our bank details") for line in body.splitlines())


@pytest.fixture
def llm(settings):
    reply = json.dumps({"subject": "A quick hello from Rita", "body": "Hi Dana, shall we talk this week?\n\nRita"})
    with FakeLLM(reply=reply) as server:
        settings.SALESAI = {**settings.SALESAI, "LLM_BASE_URL": server.url, "LLM_MODEL": "tiny", "LLM_API_KEY": ""}
        yield server


def test_llm_rewrite_happens_before_trust_decides_and_is_what_is_sent(
    world, llm, smtp_server, django_capture_on_commit_callbacks
):
    """Finding 7: the polished draft replaced the checked one after trust had decided."""
    earn_autonomy("speed_to_lead")
    form_from(world["dana"], run=django_capture_on_commit_callbacks)
    rec = Recommendation.objects.get(account=world["acme"])
    assert rec.status == Recommendation.Status.SCHEDULED
    reference = f"recommendation:{rec.pk}"
    polished = AuditEvent.objects.get(action="recommendation.draft_polished", reference=reference)
    scheduled = AuditEvent.objects.get(action="recommendation.scheduled", reference=reference)
    assert polished.pk < scheduled.pk  # trust decided on the rewritten draft
    assert not rec.awaiting_polish
    with time_machine.travel(WHEN + dt.timedelta(minutes=30), tick=False):
        executor.execute_due_actions()
    assert customer_mail(smtp_server)[0]["Subject"] == "A quick hello from Rita"


def test_a_late_llm_rewrite_never_swaps_the_draft_of_a_scheduled_autonomous_send(world, llm, smtp_server):
    """Finding 7: also for scheduled autonomous sends, a rewrite arriving after trust decided replaced
    the draft that was going out on its own."""
    earn_autonomy("pricing_outreach")
    rec = RecommendationFactory(account=world["acme"], contact=world["dana"])
    route_recommendation(recommendation=rec)  # trust decided on the template draft (the rewrite was late)
    assert rec.status == Recommendation.Status.SCHEDULED
    assert drafts.polish_recommendation_draft(recommendation_id=rec.pk, version=rec.version) is True
    with time_machine.travel(WHEN + dt.timedelta(minutes=30), tick=False):
        executor.execute_due_actions()
    assert customer_mail(smtp_server) == []
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING
    assert drafts.LATE_REWRITE_REASON in rec.trust_decision.reasons


def test_an_approved_recommendation_is_never_rewritten(world, llm, smtp_server, django_capture_on_commit_callbacks):
    rec = RecommendationFactory(account=world["acme"], contact=world["dana"])
    subject = rec.draft_subject
    with django_capture_on_commit_callbacks(execute=False):
        api_for(world["rep"]).post(f"/api/v1/recommendations/{rec.pk}/approve", {"version": rec.version}, format="json")
    rec.refresh_from_db()
    assert drafts.polish_recommendation_draft(recommendation_id=rec.pk, version=rec.version) is False
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=False)
    assert customer_mail(smtp_server)[0]["Subject"] == subject


def test_a_stored_subject_with_a_line_break_is_refused_by_the_executor(world, smtp_server):
    """Finding 10, last line of defence: nothing is handed to the mail server, the reason is kept."""
    rec = RecommendationFactory(
        account=world["acme"],
        contact=world["dana"],
        scheduled=True,
        scheduled_for=clock.now(),
        draft_subject="Hi\nBcc: x",
    )
    trust.update_policy(policy=trust.policy_for(rec.action_type), user=None, changes={"mode": "autonomous"})
    executor.execute_recommendation(recommendation_id=rec.pk, autonomous=True)
    assert customer_mail(smtp_server) == []
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.FAILED and "line break" in rec.closed_reason


def test_autonomy_never_acts_on_an_email_with_no_recipient_yet(world, smtp_server):
    """A new champion to find (champion_gone with no one left to e-mail) earns no autonomy however
    trusted its domain: a person adds or picks the recipient, and nothing goes out before."""
    earn_autonomy("replace_champion")
    rec = RecommendationFactory(account=world["acme"], contact=None, action_type="replace_champion",
                                playbook="champion_gone", stakes=Decimal("1000"))  # fmt: skip
    route_recommendation(recommendation=rec)
    assert rec.status == Recommendation.Status.PENDING
    assert "Needs review: no one to send it to yet; a person adds or picks the contact" in rec.trust_decision.reasons
    with time_machine.travel(WHEN + dt.timedelta(hours=2), tick=False):
        executor.execute_due_actions()
    assert customer_mail(smtp_server) == []
