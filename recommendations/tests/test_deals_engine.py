"""Deal playbooks end to end: the CRM sync stores a deal and its history, analysis reads them into the
facts (``deal_facts``) and the composer proposes the rescue, with the won deals' stage norms."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.models import Opportunity
from recommendations import deal_facts
from recommendations.models import Recommendation
from recommendations.services import analysis
from signals.crm.service import crm_sync_account

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)


def crm(domain: str, **deal) -> None:
    crm_sync_account(
        record={
            "domain": domain,
            "name": domain.split(".")[0].title(),
            "contacts": [{"email": f"ana@{domain}", "name": "Ana Ruiz", "title": "VP Finance"}],
            "opportunities": [{"external_id": f"{domain}-1", "name": "Platform", "amount": 40000, **deal}],
        }
    )


def test_a_stalled_deal_is_proposed_for_rescue_naming_stage_days_and_close_date():
    with time_machine.travel(T0, tick=False):
        crm("acme.com", stage="proposal", close_date="2026-12-15")
    with time_machine.travel(T0 + dt.timedelta(days=35), tick=False):
        account_id = Opportunity.objects.get().account_id
        result = analysis.analyze_account(account_id=account_id, force=True)
    rec = Recommendation.objects.get(account_id=account_id, action_type="rescue_deal")
    assert "Proposal for 35 days" in rec.reasoning and "closing 15 Dec" in rec.reasoning
    assert rec.contact.email == "ana@acme.com"
    assert rec.evidence.filter(fact_type="deal_stage", statement__contains="over the 30-day norm").exists()
    assert rec.draft_subject == "Next step for Platform?"
    (finding,) = [f for f in result.findings if f.playbook == "deal_rescue"]
    assert {c.code for c in finding.criteria} == {"stalled", "ghosted"}  # no one at Acme wrote back either


def test_won_deals_set_the_stage_norm():
    for n in range(5):
        with time_machine.travel(T0, tick=False):
            crm(f"won{n}.com", stage="proposal")
        with time_machine.travel(T0 + dt.timedelta(days=10 + n), tick=False):
            crm(f"won{n}.com", stage="negotiation")
        with time_machine.travel(T0 + dt.timedelta(days=20 + n), tick=False):
            crm(f"won{n}.com", stage="negotiation", status="won")
    assert deal_facts.stage_norms() == {"proposal": 13.0, "negotiation": 10.0}


def test_analysing_an_account_with_deals_stays_in_its_query_budget(django_assert_max_num_queries):
    with time_machine.travel(T0, tick=False):
        crm("acme.com", stage="proposal", close_date="2026-12-15")
    account_id = Opportunity.objects.get().account_id
    with time_machine.travel(T0 + dt.timedelta(days=35), tick=False), django_assert_max_num_queries(45):
        analysis.analyze_account(account_id=account_id, force=True)


def test_a_champion_who_left_with_no_one_else_to_email_waits_for_a_person_with_no_recipient():
    with time_machine.travel(T0, tick=False):
        crm_sync_account(
            record={
                "domain": "acme.com",
                "contacts": [{"email": "ana@acme.com", "name": "Ana Ruiz", "title": "VP Finance"}],
                "opportunities": [{"external_id": "d1", "name": "Platform", "amount": 40000, "stage": "proposal",
                                   "close_date": "2026-12-15", "contacts": ["ana@acme.com"]}],
            }
        )  # fmt: skip
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        crm_sync_account(
            record={"domain": "acme.com", "contacts": [{"email": "ana@acme.com", "do_not_contact": True,
                                                         "do_not_contact_reason": "Left the company"}]}
        )  # fmt: skip
        account_id = Opportunity.objects.get().account_id
        analysis.analyze_account(account_id=account_id, force=True)
    rec = Recommendation.objects.get(account_id=account_id, action_type="replace_champion")
    assert (rec.status, rec.contact_id) == ("pending", None)
    assert rec.title == "Ana Ruiz, who led Platform, left the company: find who picks it up"
    assert "Needs review: no one to send it to yet" in " ".join(rec.trust_decision.reasons)
