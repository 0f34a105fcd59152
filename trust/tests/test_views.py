"""The managers' trust page and the audited admin."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import ManagerFactory, UserFactory
from audit.models import AuditEvent
from trust import services
from trust.models import TrustPolicy, TrustSwitch
from trust.tests.factories import TrustPolicyFactory, give_record

pytestmark = pytest.mark.django_db
URL = "/trust/"


def test_url_is_wired():
    assert reverse("trust:dashboard") == URL


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_rep_gets_404(client):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 404


def test_manager_sees_record_bound_status_shadow_decisions_and_chart(client, django_assert_max_num_queries):
    TrustPolicyFactory(domain="follow_up", review_sample_rate=0.0, stakes_cap=Decimal("25000"))
    give_record("follow_up", approved=30, rejected=1)
    services.decide(domain="follow_up", stakes=Decimal("48000"), reference="recommendation:5", rng=random.Random(1))
    give_record("renewal_outreach", approved=80)
    services.decide(domain="renewal_outreach", stakes=Decimal("120000"), rng=random.Random(1))
    services.record_outcome(domain="renewal_outreach", kind="bounce", reference="recommendation:9", autonomous=True)
    client.force_login(ManagerFactory())
    with django_assert_max_num_queries(30):
        response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    # one display name per action type, the same as the inbox's
    assert "Follow up on unanswered outreach" in html and "Start the renewal conversation" in html
    assert "People approved it 30 of 31 times." in html
    assert "Still learning (a person reviews each)" in html
    assert "salesai needs about" in html and "more clean approvals before it may send these on its own." in html
    assert "Lost its autopilot — back to review" in html
    assert "salesai stopped sending these on its own on" in html and "Bounce after an autonomous" in html
    assert "anytime-valid" not in html and "confidence sequence" not in html  # plain words
    assert "$48,000 at stake is over the $25,000 cap for “follow up on unanswered outreach”" in html
    assert "would have sent 1 more on its own" in html  # the renewal decision, in shadow mode
    assert 'href="/recommendations/5/"' in html  # decisions link to their recommendations
    assert html.count("<svg") == 2 and "<polyline" in html
    assert "<script" not in html.split("</head>")[1]  # the chart needs no JavaScript


def test_kill_switch_banner(client):
    services.set_kill_switch(on=True, user=None, reason="Investigating bounces")
    client.force_login(ManagerFactory())
    assert "Investigating bounces" in client.get(URL).content.decode()


def test_admin_change_goes_through_the_audited_service(admin_client):
    policy = services.policy_for("follow_up")
    url = reverse("admin:trust_trustpolicy_change", args=[policy.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and "Advanced" in page.content.decode()
    data = {
        "mode": "paused",
        "required_reliability": "0.95",
        "min_reviews": "20",
        "stakes_cap": "25000",
        "review_strategic_accounts": "on",
        "review_c_level_contacts": "on",
        "undo_window_minutes": "10",
        "daily_cap": "50",
        "demote_after_consecutive_failures": "2",
        "confidence_level": "0.95",
        "minor_edit_max_ratio": "0.15",
        "review_sample_rate": "0.1",
        "half_life_days": "90",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.mode == TrustPolicy.Mode.PAUSED and policy.required_reliability == 0.95
    event = AuditEvent.objects.get(action="trust.policy.changed")
    assert event.actor_label == "admin"
    assert event.data["changes"] == {
        "mode": {"old": "autonomous", "new": "paused"},
        "required_reliability": {"old": 0.9, "new": 0.95},
    }


def test_admin_kill_switch_is_audited(admin_client):
    response = admin_client.post(
        reverse("admin:trust_trustswitch_add"), {"kill_switch": "on", "reason": "Bad drafts this morning"}
    )
    assert response.status_code == 302
    assert TrustSwitch.objects.get().kill_switch is True
    event = AuditEvent.objects.get(action="trust.kill_switch.on")
    assert event.data == {"old": False, "new": True, "reason": "Bad drafts this morning"}


def test_a_manager_pauses_and_resumes_all_autopilot(client):
    manager = ManagerFactory()
    client.force_login(manager)
    assert "Pause all autopilot" in client.get(URL).content.decode()
    response = client.post("/trust/pause", {"pause": "1"})
    assert response.status_code == 302 and services.kill_switch_on()
    assert AuditEvent.objects.filter(action="trust.kill_switch.on", actor=manager).exists()
    page = client.get(URL).content.decode()
    assert "Autopilot is paused for everything." in page and "Resume autopilot" in page
    client.post("/trust/pause", {"pause": "0"})
    assert not services.kill_switch_on()


def test_a_rep_cannot_pause_autopilot(client):
    client.force_login(UserFactory())
    assert client.post("/trust/pause", {"pause": "1"}).status_code == 404
    assert not services.kill_switch_on()
    assert client.get("/trust/pause").status_code == 405


def test_admin_names_read_as_english(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "Trust switches" in index and "Webhook deliveries" in index
    assert "switchs" not in index and "deliverys" not in index
