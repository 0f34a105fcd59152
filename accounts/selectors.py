"""Reads of accounts, always scoped to what the person may see."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from accounts.models import Account, Contact, Opportunity, OpportunityChange, RepProfile
from salesai.roles import is_manager


def accounts_for(*, user) -> QuerySet[Account]:
    """The only way a person's view gets accounts: a manager sees all, a rep their own, others none."""
    if not getattr(user, "is_authenticated", False):
        return Account.objects.none()
    if is_manager(user):
        return Account.objects.all()
    return Account.objects.filter(owner=user)


def contact_by_email(email: str) -> Contact | None:
    return Contact.objects.select_related("account").filter(email=email.strip().lower()).first()


def undo_seconds_for(user) -> int:
    """How long this person's approved e-mails wait before they go out (their preference, else the
    default of :class:`RepProfile`): one query, no profile row created on a read."""
    seconds = RepProfile.objects.filter(user=user).values_list("undo_seconds", flat=True).first()
    return RepProfile._meta.get_field("undo_seconds").default if seconds is None else int(seconds)


def times(n: int) -> str:
    """``once``, ``twice``, ``3 times``."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def deals_of(*, account: Account, now: dt.datetime) -> list[Opportunity]:
    """The account's deals for its page, open ones first (then by close date), in one query. Each carries
    what its stage history says: ``days_in_stage`` (since ``stage_changed_at``) and ``close_date_moved``
    ("twice": how often the CRM changed its close date, "" when never)."""
    moves = Count("changes", filter=Q(changes__field=OpportunityChange.Field.CLOSE_DATE))
    is_open = Case(When(status=Opportunity.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    deals = list(
        Opportunity.objects.filter(account=account)
        .annotate(close_date_moves=moves, closed=is_open)
        .order_by("closed", "close_date", "pk")
    )
    for deal in deals:
        deal.days_in_stage = (now - deal.stage_changed_at).days if deal.stage_changed_at else None
        deal.close_date_moved = times(deal.close_date_moves) if deal.close_date_moves else ""
    return deals
