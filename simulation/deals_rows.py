"""The deals' rows at set-up (as a CRM import would write them, with when each entered its stage), and
the simulated manager whose token syncs the CRM's changes during the run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from accounts.models import Account
from accounts.services import opportunity_upsert
from recommendations.models import OutreachPolicy, Recommendation
from recommendations.services import caps
from signals.models import Signal
from simulation.deals import SimDeal
from simulation.market import World

MANAGER = "sim-manager"


def create_deal(*, account: Account, deal: SimDeal) -> None:
    opportunity_upsert(
        account=account,
        external_id=deal.external_id,
        values={
            "name": deal.name,
            "amount": Decimal(deal.amount),
            "stage": deal.stage,
            "close_date": deal.close_date,
            "stage_changed_at": deal.stage_entered,
            "contacts": list(deal.people),
        },
    )


def crm_token(world: World) -> str:
    """The token of a simulated manager (CRM sync is for managers), created once per database."""
    manager, _ = get_user_model().objects.get_or_create(username=MANAGER, defaults={"email": "manager@salesai.example"})
    manager.groups.add(Group.objects.get_or_create(name="manager")[0])
    return Token.objects.get_or_create(user=manager)[0].key


def cap_breaches(*, domains: set[str]) -> dict[str, int]:
    """E-mails salesai sent that broke a cap counting every e-mail before them (the reps' own too):
    ``contact`` (more than the contact cap in its window) and ``account`` (more than the daily cap).
    A person's answer to the contact's own message is outside the caps while the policy exempts answers
    (``caps.exempt_answer``): those beyond a cap are counted apart, as ``answers_beyond_cap``."""
    policy = OutreachPolicy.current()
    window, day = dt.timedelta(days=policy.contact_window_days), dt.timedelta(days=1)
    sent = list(
        Signal.objects.filter(kind=Signal.Kind.EMAIL_SENT, account__domain__in=domains)
        .order_by("occurred_at", "pk")
        .values_list("pk", "occurred_at", "account_id", "contact_id", "properties")
    )
    breaches = {"contact": 0, "account": 0, "salesai_emails": 0, "answers_beyond_cap": 0}
    for pk, at, account_id, contact_id, properties in sent:
        if "recommendation_id" not in (properties or {}):
            continue
        breaches["salesai_emails"] += 1
        before = [row for row in sent if at - window < row[1] <= at and (row[1], row[0]) <= (at, pk)]
        contact = sum(1 for row in before if row[3] == contact_id) > policy.contact_cap
        account = sum(1 for row in before if row[2] == account_id and row[1] > at - day) > policy.account_daily_cap
        if (contact or account) and _exempt_answer(properties["recommendation_id"], policy):
            breaches["answers_beyond_cap"] += 1
            continue
        breaches["contact"] += contact
        breaches["account"] += account
    return breaches


def _exempt_answer(recommendation_id, policy: OutreachPolicy) -> bool:
    rec = Recommendation.objects.filter(pk=recommendation_id).first()
    return rec is not None and caps.exempt_answer(rec, policy)
