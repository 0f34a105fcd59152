"""Writes to accounts. Every write is one named service with keyword-only arguments."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Account, AccountPicture, Contact


@transaction.atomic
def account_get_or_create(*, domain: str, defaults: dict | None = None) -> tuple[Account, bool]:
    """Find the account for a registrable domain or create it (with its empty picture)."""
    account, created = Account.objects.get_or_create(
        domain=domain.strip().lower(), defaults=defaults or {"name": domain}
    )
    if created:
        AccountPicture.objects.get_or_create(account=account)
    return account, created


def picture_ensure(*, account: Account) -> AccountPicture:
    picture, _ = AccountPicture.objects.get_or_create(account=account)
    return picture


@transaction.atomic
def contact_mark_do_not_contact(*, contact: Contact, reason: str) -> Contact:
    """Stop all outreach to a person (an unsubscribe, a complaint, a manager's decision)."""
    if not contact.do_not_contact or contact.do_not_contact_reason != reason:
        contact.do_not_contact = True
        contact.do_not_contact_reason = reason[:200]
        contact.save(update_fields=["do_not_contact", "do_not_contact_reason", "updated_at"])
    return contact
