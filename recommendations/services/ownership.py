"""Who owns an account, set by a manager from the inbox or the account page (with its audit row).

Rule-based assignment of new accounts lives with the accounts (``accounts.services.owner_by_rules``);
this is a person's decision, so it is audited, and only managers may make it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Account
from audit.services import audit_record
from salesai.api_errors import DomainError
from salesai.roles import MANAGER_GROUP, REP_GROUP, is_manager


class OwnershipError(DomainError):
    status_code = 403
    code = "forbidden"


def assignable_reps():
    """Active reps and managers, by name: whom an account may be given to."""
    return (
        get_user_model()
        .objects.filter(groups__name__in=[REP_GROUP, MANAGER_GROUP], is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
        .only("id", "username", "first_name", "last_name")
    )


def assign_account_owner(*, account: Account, owner_id: int, user) -> Account:
    """A manager gives ``account`` to the rep ``owner_id`` (one transaction, audited)."""
    if not is_manager(user):
        raise OwnershipError("Only a manager can assign an account's owner.")
    owner = assignable_reps().filter(pk=owner_id).first()
    if owner is None:
        raise DomainError(
            "Choose one of the reps.", code="invalid", status_code=400, fields={"owner": "Not an active rep."}
        )
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = locked.owner_id
        locked.owner = owner
        locked.save(update_fields=["owner", "updated_at"])
        audit_record(
            action="account.owner_assigned",
            actor=user,
            reference=f"account:{account.pk}",
            data={"from": before, "to": owner.pk},
        )
    account.owner = owner
    return account
