"""The two roles: a rep sees their own accounts; a manager (or superuser) sees everyone's."""

from __future__ import annotations

REP_GROUP = "rep"
MANAGER_GROUP = "manager"


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
