"""The recommendations API of DESIGN.md §4: shape, scoping per role, filters, actions, query budget."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.tests.factories import AccountFactory, ContactFactory, ManagerFactory, UserFactory
from recommendations.models import ActionType, Recommendation, Review
from recommendations.tests.factories import EvidenceFactory, RecommendationFactory
from salesai import clock
from signals.tests.factories import SignalFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def world():
    rep, other_rep, manager = UserFactory(username="rita"), UserFactory(username="olaf"), ManagerFactory()
    acme = AccountFactory(name="Acme", domain="acme.com", owner=rep)
    globex = AccountFactory(name="Globex", domain="globex.com", owner=other_rep)
    mine = RecommendationFactory(account=acme, priority=80)
    signal = SignalFactory(account=acme, pricing_view=True)
    EvidenceFactory(recommendation=mine, signal=signal, statement="Viewed /pricing on Thu 19 Nov 14:02")
    theirs = RecommendationFactory(account=globex, priority=90, action_type=ActionType.RE_ENGAGE)
    return {"rep": rep, "other": other_rep, "manager": manager, "acme": acme, "mine": mine, "theirs": theirs}


def test_list_items_have_the_documented_shape(world):
    response = client_for(world["rep"]).get("/api/v1/recommendations")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    rec = world["mine"]
    for key in (
        "id",
        "account",
        "contact",
        "action_type",
        "title",
        "status",
        "priority",
        "confidence",
        "reasoning",
        "rationale",
        "evidence",
        "draft",
        "trust",
        "created_at",
        "updated_at",
    ):
        assert key in item, key
    assert item["account"] == {"id": world["acme"].pk, "name": "Acme", "domain": "acme.com"}
    assert item["contact"]["id"] == rec.contact_id
    assert item["evidence"][0]["statement"] == "Viewed /pricing on Thu 19 Nov 14:02"
    assert item["evidence"][0]["signal_id"] is not None and item["evidence"][0]["kind"] == "page_view"
    assert item["draft"] == {"subject": rec.draft_subject, "body": rec.draft_body}
    assert item["trust"] == {"decision": "review", "reasons": []}
    assert item["status"] == "pending"


def test_a_rep_sees_only_their_accounts_and_a_manager_sees_all(world):
    assert [r["id"] for r in client_for(world["rep"]).get("/api/v1/recommendations").json()["results"]] == [
        world["mine"].pk
    ]
    manager_ids = [r["id"] for r in client_for(world["manager"]).get("/api/v1/recommendations").json()["results"]]
    assert manager_ids == [world["theirs"].pk, world["mine"].pk]  # priority order


def test_another_reps_recommendation_is_not_found(world):
    client = client_for(world["rep"])
    response = client.get(f"/api/v1/recommendations/{world['theirs'].pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = client.post(f"/api/v1/recommendations/{world['theirs'].pk}/reject", {"reason": "not_relevant"})
    assert response.status_code == 404
    assert Recommendation.objects.get(pk=world["theirs"].pk).status == Recommendation.Status.PENDING


def test_filters_apply_after_scoping(world):
    client = client_for(world["rep"])
    assert client.get("/api/v1/recommendations?account_domain=globex.com").json()["count"] == 0
    assert client.get("/api/v1/recommendations?account_domain=ACME.com").json()["count"] == 1
    manager = client_for(world["manager"])
    assert manager.get("/api/v1/recommendations?action_type=re_engage").json()["count"] == 1
    assert manager.get("/api/v1/recommendations?status=executed").json()["count"] == 0
    bad = manager.get("/api/v1/recommendations?status=nonsense")
    assert bad.status_code == 400
    assert "status" in bad.json()["error"]["fields"]


def test_unauthenticated_requests_are_refused_in_the_error_shape(world):
    response = APIClient().get("/api/v1/recommendations")
    assert response.status_code in (401, 403)
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_a_page_costs_a_constant_number_of_queries(world):
    client = client_for(world["manager"])
    client.get("/api/v1/recommendations")  # warm the role cache etc.
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/recommendations")
    for i in range(20):
        account = AccountFactory(domain=f"many{i}.example")
        rec = RecommendationFactory(account=account, contact=ContactFactory(account=account))
        EvidenceFactory.create_batch(3, recommendation=rec)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/api/v1/recommendations")
    assert response.json()["count"] == 22
    assert len(many.captured_queries) == len(few.captured_queries) <= 8


def test_reject_with_a_reason(world):
    client = client_for(world["rep"])
    url = f"/api/v1/recommendations/{world['mine'].pk}/reject"
    bad = client.post(url, {"reason": "because"}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()["error"]["fields"]
    response = client.post(url, {"reason": "wrong_timing", "reason_text": "They just signed"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    review = Review.objects.get(recommendation=world["mine"])
    assert (review.decision, review.reason, review.reviewer) == ("rejected", "wrong_timing", world["rep"])
    again = client.post(url, {"reason": "wrong_timing"}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"]


def test_snooze_until_a_future_moment(world):
    client = client_for(world["rep"])
    url = f"/api/v1/recommendations/{world['mine'].pk}/snooze"
    assert client.post(url, {}, format="json").status_code == 400
    past = client.post(url, {"until": (clock.now() - dt.timedelta(hours=1)).isoformat()}, format="json")
    assert past.status_code == 400 and "until" in past.json()["error"]["fields"]
    until = clock.now() + dt.timedelta(days=2)
    response = client.post(url, {"until": until.isoformat()}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "snoozed"


def test_approve_with_an_edited_draft(world, django_capture_on_commit_callbacks, mailoutbox):
    client = client_for(world["rep"])
    url = f"/api/v1/recommendations/{world['mine'].pk}/approve"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "version": world["mine"].version,
                "draft": {"subject": "Plans for Acme", "body": "Hi Dana,\n\nShort note.\n"},
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    review = Review.objects.get(recommendation=world["mine"])
    assert review.decision == Review.Decision.EDITED
    assert review.edited_subject == "Plans for Acme"
    assert response.json()["status"] in ("scheduled", "executed")


def test_account_picture_is_scoped_and_has_a_timeline(world):
    acme = world["acme"]
    acme.picture.features = {"pricing_visits_7d": 1}
    acme.picture.save()
    response = client_for(world["rep"]).get(f"/api/v1/accounts/{acme.pk}/picture")
    assert response.status_code == 200
    body = response.json()
    assert body["account"]["domain"] == "acme.com"
    assert body["features"]["pricing_visits_7d"] == 1
    assert set(body["scores"]) == {"engagement", "intent", "risk"}
    assert body["timeline"][0]["kind"] == "page_view"
    assert body["open_recommendations"][0]["id"] == world["mine"].pk
    other = AccountFactory(domain="globex2.com", owner=world["other"])
    assert client_for(world["rep"]).get(f"/api/v1/accounts/{other.pk}/picture").status_code == 404
    assert client_for(world["manager"]).get(f"/api/v1/accounts/{other.pk}/picture").status_code == 200


def test_schema_documents_the_api(world):
    client = client_for(world["manager"])
    schema = client.get("/api/schema/?format=json").json()
    for path in (
        "/api/v1/recommendations",
        "/api/v1/recommendations/{id}",
        "/api/v1/recommendations/{id}/approve",
        "/api/v1/recommendations/{id}/reject",
        "/api/v1/recommendations/{id}/snooze",
        "/api/v1/recommendations/{id}/cancel",
        "/api/v1/accounts/{id}/picture",
    ):
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/v1/recommendations"]["get"]["parameters"]}
    assert {"status", "account_domain", "action_type"} <= params


def test_cancel_undoes_a_scheduled_action_through_the_api(world):
    rec = world["mine"]
    Recommendation.objects.filter(pk=rec.pk).update(
        status=Recommendation.Status.SCHEDULED, scheduled_for=clock.now() + dt.timedelta(minutes=10)
    )
    response = client_for(world["rep"]).post(f"/api/v1/recommendations/{rec.pk}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending"
    assert Review.objects.get(recommendation=rec).decision == Review.Decision.CANCELLED
    again = client_for(world["rep"]).post(f"/api/v1/recommendations/{rec.pk}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
