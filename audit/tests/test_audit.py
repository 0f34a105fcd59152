"""The audit trail: secrets masked by exact name, and nothing recorded can be changed or removed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_record, mask_secrets


@pytest.mark.django_db
def test_identifying_keys_are_kept_and_secrets_are_masked():
    event = audit_record(
        action="recommendation.execution_claimed",
        reference="recommendation:7",
        data={
            "dedupe_key": "follow_up:acme.example:dana@acme.example",
            "idempotency_key": "rec:7:v3",
            "message_id": "<abc@mail.salesai.example>",
            "write_key": "sk_live_abc",
            "signing_secret": "whsec_abc",
            "password": "hunter2",
            "token": "9f86d081",
            "api_key": "llm-key",
            "secret": "s3",
        },
    )
    event.refresh_from_db()
    assert event.data == {
        "dedupe_key": "follow_up:acme.example:dana@acme.example",
        "idempotency_key": "rec:7:v3",
        "message_id": "<abc@mail.salesai.example>",
        "write_key": "***",
        "signing_secret": "***",
        "password": "***",
        "token": "***",
        "api_key": "***",
        "secret": "***",
    }


def test_masking_reaches_nested_dicts_and_lists_and_ignores_case():
    data = {
        "source": {"name": "website", "Write-Key": "sk_1", "keys_rotated": 2},
        "headers": [{"Authorization": "Basic abc", "Content-Type": "application/json"}],
        "changes": {"password": {"old": "a", "new": "b"}, "monkey": "banana", "tokens_used": 12},
    }
    assert mask_secrets(data) == {
        "source": {"name": "website", "Write-Key": "***", "keys_rotated": 2},
        "headers": [{"Authorization": "***", "Content-Type": "application/json"}],
        "changes": {"password": "***", "monkey": "banana", "tokens_used": 12},
    }


def test_a_secret_looking_value_under_an_ordinary_name_is_kept():
    """Masking is by name: a value is not guessed at (a reason text may well contain the word "token")."""
    assert mask_secrets({"reason": "token expired", "note": "secret"}) == {"reason": "token expired", "note": "secret"}


@pytest.mark.django_db
def test_a_recorded_event_cannot_be_changed_or_deleted_through_the_orm():
    event = audit_record(action="trust.kill_switch.on", reference="trust_switch", data={"new": True})
    event.data = {"new": False}
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(data={"new": False})
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.bulk_update([event], ["data"])
    event.refresh_from_db()
    assert event.data == {"new": True}
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_deleting_the_actor_keeps_the_event_and_the_name_at_the_time():
    user = get_user_model().objects.create_user(username="dana", password="x" * 12)
    event = audit_record(action="trust.policy.changed", actor=user, reference="trust_policy:reply", data={})
    user.delete()
    event.refresh_from_db()
    assert event.actor_id is None
    assert event.actor_label == "dana"


@pytest.fixture
def admin_client_and_event(db):
    admin = get_user_model().objects.create_superuser(username="root", email="root@salesai.test", password="x" * 12)
    client = Client()
    client.force_login(admin)
    return client, audit_record(action="trust.kill_switch.on", reference="trust_switch", data={"new": True})


def test_the_admin_shows_events_read_only(admin_client_and_event):
    client, event = admin_client_and_event
    listing = client.get("/admin/audit/auditevent/")
    assert listing.status_code == 200
    assert "trust.kill_switch.on" in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/admin/audit/auditevent/add/").status_code == 403


def test_the_admin_refuses_to_change_or_delete_an_event(admin_client_and_event):
    client, event = admin_client_and_event
    changed = client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "trust.kill_switch.off"})
    assert changed.status_code == 403
    assert client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(
        "/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)  # Django answers an unknown action with the list and a message
    event.refresh_from_db()
    assert event.action == "trust.kill_switch.on"
    assert AuditEvent.objects.filter(pk=event.pk).exists()
