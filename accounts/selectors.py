"""Reads of accounts, always scoped to what the person may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Account, Contact
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
