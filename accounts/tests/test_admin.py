"""The accounts admin: the deal's stage history is shown on the opportunity, read-only."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import OpportunityChange
from accounts.tests.factories import OpportunityChangeFactory, OpportunityFactory
from salesai import clock

pytestmark = pytest.mark.django_db


def test_the_opportunity_shows_its_stage_history_read_only(admin_client):
    deal = OpportunityFactory(name="Acme platform", stage="proposal")
    entered = clock.now() - dt.timedelta(days=34)
    OpportunityChangeFactory(opportunity=deal, new_value="evaluation", changed_at=entered - dt.timedelta(days=20))
    OpportunityChangeFactory(opportunity=deal, old_value="evaluation", new_value="proposal", changed_at=entered)
    OpportunityChangeFactory(opportunity=deal, field="close_date", old_value="2026-03-31", new_value="2026-04-30")
    page = admin_client.get(f"/admin/accounts/opportunity/{deal.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "stage history" in html.lower()
    assert "2026-03-31" in html and "2026-04-30" in html and "evaluation" in html
    assert 'name="changes-0-new_value"' not in html  # shown, not editable
    assert "Add another change" not in html


def test_the_stage_history_cannot_be_edited_through_the_admin(admin_client):
    """Abuse: a forged inline formset posted with the opportunity changes no history row."""
    change = OpportunityChangeFactory(new_value="proposal")
    deal = change.opportunity
    form = {
        "account": deal.account_id, "external_id": deal.external_id or "", "name": deal.name, "amount": "20000",
        "stage": "proposal", "status": "open", "close_date": deal.close_date.isoformat(),
        "changes-TOTAL_FORMS": "2", "changes-INITIAL_FORMS": "1", "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "1000", "changes-0-id": change.pk, "changes-0-new_value": "won",
        "changes-0-opportunity": deal.pk, "changes-1-field": "stage", "changes-1-new_value": "won",
        "changes-1-changed_at_0": "2026-01-01", "changes-1-changed_at_1": "00:00:00", "changes-1-opportunity": deal.pk,
    }  # fmt: skip
    admin_client.post(f"/admin/accounts/opportunity/{deal.pk}/change/", form)
    assert list(OpportunityChange.objects.values_list("new_value", flat=True)) == ["proposal"]
