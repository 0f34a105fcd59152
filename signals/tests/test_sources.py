"""Creating a source, rotating its write key, changing and deactivating it are audited services; the
``create_source`` command and the admin go through them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEvent
from signals.models import Source
from signals.sources import create_source, deactivate_source, rotate_write_key, source_for_write_key, update_source

pytestmark = pytest.mark.django_db


def _events(source: Source) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(reference=f"source:{source.pk}").order_by("pk"))


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@salesai.test", "pw")


def test_creating_a_source_is_audited_without_its_secrets(admin_user):
    source, write_key = create_source(name="website", kind=Source.Kind.SEGMENT, actor=admin_user)
    [event] = _events(source)
    assert (event.action, event.actor, event.data["name"], event.data["kind"]) == (
        "source.created",
        admin_user,
        "website",
        "segment",
    )
    stored = json.dumps(event.data)
    assert write_key not in stored and source.signing_secret not in stored


def test_rotating_a_key_is_audited_and_the_old_key_stops_working(admin_user):
    source, old_key = create_source(name="website", kind=Source.Kind.SEGMENT)
    assert source_for_write_key(old_key) == source
    new_key = rotate_write_key(source=source, actor=admin_user)
    assert source_for_write_key(old_key) is None and source_for_write_key(new_key) == source
    event = _events(source)[-1]
    assert (event.action, event.actor) == ("source.write_key_rotated", admin_user)
    assert old_key not in json.dumps(event.data) and new_key not in json.dumps(event.data)


def test_deactivating_is_audited_once_and_refuses_the_key_at_once(admin_user):
    source, key = create_source(name="website", kind=Source.Kind.SEGMENT)
    assert source_for_write_key(key) == source  # remembered by this process
    assert deactivate_source(source=source, actor=admin_user) is True
    assert deactivate_source(source=source, actor=admin_user) is False  # already inactive: nothing to record
    assert source_for_write_key(key) is None
    assert [e.action for e in _events(source)] == ["source.created", "source.deactivated"]


def test_changing_a_source_records_what_changed_from_what(admin_user):
    source, _ = create_source(name="website", kind=Source.Kind.SEGMENT)
    changed = update_source(source=source, values={"rate_limit_per_minute": 120, "name": "website"}, actor=admin_user)
    assert changed == ["rate_limit_per_minute"]
    assert update_source(source=source, values={"rate_limit_per_minute": 120}) == []
    event = _events(source)[-1]
    assert (event.action, event.data) == ("source.updated", {"changes": {"rate_limit_per_minute": [None, 120]}})
    with pytest.raises(ValueError):
        update_source(source=source, values={"write_key_hash": "0" * 64})


def test_the_create_source_command_is_audited():
    out = io.StringIO()
    call_command("create_source", "forms", "--kind", "generic", "--json", stdout=out)
    source = Source.objects.get(name="forms")
    [event] = _events(source)
    assert (event.action, event.actor, event.actor_label) == ("source.created", None, "system")
    assert json.loads(out.getvalue())["write_key"] not in json.dumps(event.data)


def test_the_admin_creates_edits_rotates_and_deactivates_through_the_services(client, admin_user):
    client.force_login(admin_user)
    client.post(
        reverse("admin:signals_source_add"),
        {"name": "crm-webhooks", "kind": "generic", "event_map": "{}", "active": "on"},
    )
    source = Source.objects.get(name="crm-webhooks")
    client.post(
        reverse("admin:signals_source_change", args=[source.pk]),
        {"name": "crm-webhooks", "kind": "generic", "event_map": "{}", "active": "on", "accounts_per_hour": "50"},
    )
    changelist = reverse("admin:signals_source_changelist")
    client.post(changelist, {"action": "rotate_write_key", "_selected_action": [source.pk]})
    client.post(changelist, {"action": "deactivate", "_selected_action": [source.pk]})
    events = _events(source)
    assert [e.action for e in events] == [
        "source.created",
        "source.updated",
        "source.write_key_rotated",
        "source.deactivated",
    ]
    assert {e.actor for e in events} == {admin_user}
    assert events[1].data == {"changes": {"accounts_per_hour": [None, 50]}}
    source.refresh_from_db()
    assert (source.active, source.accounts_per_hour) == (False, 50)
