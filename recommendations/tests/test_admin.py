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


def test_playbook_parameters_are_form_fields_with_their_help(admin_client):
    from recommendations.models import PlaybookConfig

    config = PlaybookConfig.objects.create(code="pricing_interest", params={"min_visits": 4})
    url = f"/admin/recommendations/playbookconfig/{config.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="param_min_visits"' in page and 'value="4"' in page
    assert "Pricing-page visits needed within the window. Example: 3" in page
    assert 'name="param_path_contains"' in page and "separate them with commas" in page
    response = admin_client.post(
        url,
        {"code": "pricing_interest", "enabled": "on", "params": '{"min_visits": 4}', "param_min_visits": "5",
         "param_window_days": "", "param_path_contains": "/pricing, /plans"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    config.refresh_from_db()
    assert config.params == {"min_visits": 5, "path_contains": ["/pricing", "/plans"]}


def test_a_negative_parameter_is_refused_by_name():
    form = PlaybookConfigForm(data={"code": "pricing_interest", "enabled": True, "param_min_visits": "-1"})
    assert not form.is_valid() and "param_min_visits" in form.errors
