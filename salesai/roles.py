"""The two roles: a rep sees their own accounts; a manager (or superuser) sees everyone's."""

from __future__ import annotations

REP_GROUP = "rep"
MANAGER_GROUP = "manager"


def person_name(user) -> str:
    """How salesai names a person to others: their full name, else their username."""
    return user.get_full_name() or user.get_username()


def is_manager(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_salesai_is_manager", None)
    if cached is None:
        cached = user.groups.filter(name=MANAGER_GROUP).exists()
        user._salesai_is_manager = cached
    return cached


def manager_addresses() -> list[str]:
    """Where managers are told things (escalations, a domain losing autopilot): the e-mail addresses of
    active managers and superusers."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return list(
        get_user_model()
        .objects.filter(Q(groups__name=MANAGER_GROUP) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
