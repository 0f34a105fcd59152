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
