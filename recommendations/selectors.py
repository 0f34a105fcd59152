"""Reads of recommendations, always through the one scoping selector."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.roles import is_manager
from recommendations.models import Recommendation


def recommendations_for(*, user) -> QuerySet[Recommendation]:
    """The only way the inbox, the API and exports get recommendations: a manager sees all, a rep
    those of accounts they own, anyone else nothing. Anything outside it answers 404."""
    if not getattr(user, "is_authenticated", False):
        return Recommendation.objects.none()
    if is_manager(user):
        return Recommendation.objects.all()
    return Recommendation.objects.filter(account__owner=user)


def recommendations_for_api(*, user) -> QuerySet[Recommendation]:
    """The API's rows: scoped first, then joined so a page costs a constant number of queries."""
    from django.db.models import Prefetch

    from recommendations.models import Evidence

    return (
        recommendations_for(user=user)
        .select_related("account", "contact", "trust_decision")
        .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("-occurred_at", "id")))
    )


def account_picture(*, account) -> dict:
    """The account's picture, its open recommendations and a timeline of its recent signals."""
    from accounts.models import AccountPicture
    from signals.models import Signal

    picture = AccountPicture.objects.filter(account=account).first() or AccountPicture(account=account)
    timeline = list(
        Signal.objects.filter(account=account)
        .select_related("contact")
        .order_by("-occurred_at", "-id")
        .only(
            "id",
            "kind",
            "name",
            "occurred_at",
            "intent",
            "sentiment",
            "is_auto_reply",
            "properties",
            "contact__id",
            "contact__name",
            "contact__email",
            "contact__title",
        )[:50]
    )
    open_recs = list(
        Recommendation.objects.filter(account=account, status__in=Recommendation.OPEN_STATUSES).values(
            "id", "action_type", "title", "status", "priority"
        )
    )
    return {
        "account": account,
        "features": picture.features or {},
        "scores": {
            "engagement": picture.engagement_score,
            "intent": picture.intent_score,
            "risk": picture.risk_score,
        },
        "version": picture.version,
        "analyzed_at": picture.analyzed_at,
        "next_check_at": picture.next_check_at,
        "open_recommendations": open_recs,
        "timeline": timeline,
    }
