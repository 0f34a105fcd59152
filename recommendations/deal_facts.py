"""The deals of an account as the playbooks read them (``DealFact``), and the stage norms of won deals.

Read only for an account with open opportunities (one query tells): then one query for its deals'
people and one for their history, plus one for the won deals' stage history behind the norms."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable

from accounts.models import Opportunity, OpportunityChange
from recommendations.playbooks.base import DealFact

#: The stage norm is this percentile of the days won deals spent in a stage...
NORM_PERCENTILE = 0.75
#: ...once at least this many won deals went through it (else the manager's default applies).
MIN_WON_DEALS = 5


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–1) of a non-empty collection."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def stage_durations(changes: Iterable[tuple[int, str, str, dt.datetime]]) -> dict[str, list[float]]:
    """Stage → days each deal spent in it, from ``(deal, field, new_value, changed_at)`` rows ordered by
    deal and time: a stage lasts until the deal's next stage change or its close (status change)."""
    durations: dict[str, list[float]] = defaultdict(list)
    current: dict[int, tuple[str, dt.datetime]] = {}
    for deal, field, value, at in changes:
        entered = current.pop(deal, None)
        if entered is not None:
            durations[entered[0]].append((at - entered[1]).total_seconds() / 86400)
        if field == OpportunityChange.Field.STAGE:
            current[deal] = (value, at)
    return durations


def stage_norms() -> dict[str, float]:
    """Stage → the 75th percentile of days won deals spent there (stages with enough won deals only)."""
    rows = (
        OpportunityChange.objects.filter(
            opportunity__status=Opportunity.Status.WON,
            field__in=[OpportunityChange.Field.STAGE, OpportunityChange.Field.STATUS],
        )
        .order_by("opportunity_id", "changed_at", "id")
        .values_list("opportunity_id", "field", "new_value", "changed_at")
    )
    return {
        stage: round(percentile(days, NORM_PERCENTILE), 1)
        for stage, days in stage_durations(rows).items()
        if len(days) >= MIN_WON_DEALS
    }


def open_deals(*, account_id: int) -> tuple[DealFact, ...]:
    """The account's open opportunities, largest first, with their people and close-date pushes."""
    deals = list(
        Opportunity.objects.filter(account_id=account_id, status=Opportunity.Status.OPEN)
        .order_by("-amount", "id")
        .values("id", "name", "stage", "amount", "status", "close_date", "stage_changed_at", "created_at")
    )
    if not deals:
        return ()
    ids = [d["id"] for d in deals]
    people: dict[int, list[int]] = defaultdict(list)
    through = Opportunity.contacts.through.objects.filter(opportunity_id__in=ids).order_by("id")
    for deal_id, contact_id in through.values_list("opportunity_id", "contact_id"):
        people[deal_id].append(contact_id)
    pushes: dict[int, list[tuple[dt.datetime, dt.date, dt.date]]] = defaultdict(list)
    first_seen: dict[int, dt.datetime] = {}
    history = (
        OpportunityChange.objects.filter(opportunity_id__in=ids)
        .order_by("changed_at", "id")
        .values_list("opportunity_id", "field", "old_value", "new_value", "changed_at")
    )
    for deal_id, field, old, new, at in history:
        first_seen.setdefault(deal_id, at)
        if field == OpportunityChange.Field.CLOSE_DATE:
            before, after = _date(old), _date(new)
            if before and after and after > before:
                pushes[deal_id].append((at, before, after))
    return tuple(
        DealFact(
            id=d["id"],
            name=d["name"],
            stage=d["stage"],
            amount=d["amount"],
            status=d["status"],
            close_date=d["close_date"],
            stage_changed_at=d["stage_changed_at"],
            opened_at=min(filter(None, (first_seen.get(d["id"]), d["created_at"]))),
            contact_ids=tuple(people[d["id"]]),
            close_date_pushes=tuple(pushes[d["id"]]),
        )
        for d in deals
    )
