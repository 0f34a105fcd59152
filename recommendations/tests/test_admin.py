"""The admin: playbook settings validate their parameters; recommendations can be inspected."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from recommendations.admin import PlaybookConfigForm
from recommendations.tests.factories import EvidenceFactory

pytestmark = pytest.mark.django_db


def test_playbook_settings_refuse_unknown_or_mistyped_parameters():
    assert PlaybookConfigForm(
        data={"code": "pricing_interest", "enabled": True, "params": '{"min_visits": 4}'}
    ).is_valid()
    unknown = PlaybookConfigForm(data={"code": "pricing_interest", "enabled": True, "params": '{"visits": 4}'})
    assert not unknown.is_valid() and "Unknown parameter" in str(unknown.errors["params"])
    typed = PlaybookConfigForm(data={"code": "pricing_interest", "enabled": True, "params": '{"min_visits": "4"}'})
    assert not typed.is_valid() and "min_visits must be a int" in str(typed.errors["params"])


def test_admin_pages_render(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    evidence = EvidenceFactory()
    assert client.get("/admin/recommendations/playbookconfig/add/").status_code == 200
    page = client.get(f"/admin/recommendations/recommendation/{evidence.recommendation.pk}/change/")
    assert page.status_code == 200 and evidence.statement in page.content.decode()
