"""Reads of accounts, always scoped to what the person may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Account, Contact, RepProfile
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
