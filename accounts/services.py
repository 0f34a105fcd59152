"""Writes to accounts. Every write is one named service with keyword-only arguments."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Account, AccountPicture, AssignmentRule, Contact, Contract, Opportunity


@transaction.atomic
def account_get_or_create(*, domain: str, defaults: dict | None = None) -> tuple[Account, bool]:
    """Find the account for a registrable domain or create it (with its empty picture)."""
    account, created = Account.objects.get_or_create(
        domain=domain.strip().lower(), defaults=defaults or {"name": domain}
    )
    if created:
        AccountPicture.objects.get_or_create(account=account)
        if account.owner_id is None and (owner := owner_by_rules(account=account)) is not None:
            account.owner = owner
            account.save(update_fields=["owner", "updated_at"])
    return account, created


@transaction.atomic
def owner_by_rules(*, account: Account):
    """The rep the first matching active assignment rule gives ``account`` (its reps take turns; the
    rule is locked so two new accounts at once go to two reps), or None when no rule matches."""
    for rule in AssignmentRule.objects.filter(active=True).select_for_update():
        if not rule.matches(account):
            continue
        reps = list(rule.reps.filter(is_active=True).order_by("pk"))
        if not reps:
            continue
        rule.last_index = (rule.last_index + 1) % len(reps)
        rule.save(update_fields=["last_index"])
        return reps[rule.last_index]
    return None


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


# --- CRM upserts by natural key (used by signals' CRM sync: API and import_crm) -------------------


def _apply_changes(instance, values: dict) -> list[str]:
    """Set the values that differ; return the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


@transaction.atomic
def account_upsert(*, domain: str, values: dict) -> tuple[Account, bool, list[str]]:
    """Create or update the account of ``domain`` with ``values`` (name, owner, segment, arr, …).
    Returns ``(account, created, changed_field_names)``."""
    domain = domain.strip().lower()
    account = Account.objects.select_for_update().filter(domain=domain).first()
    if account is None:
        account, created = account_get_or_create(domain=domain, defaults={"name": values.get("name") or domain})
        if not created:
            account = Account.objects.select_for_update().get(pk=account.pk)
    else:
        created = False
    changed = _apply_changes(account, values)
    if changed:
        account.save(update_fields=[*changed, "updated_at"])
    return account, created, changed


@transaction.atomic
def contact_upsert(*, account: Account, email: str, values: dict) -> tuple[Contact, bool, list[str]]:
    """Create or update a person by e-mail; the CRM's account wins over one guessed from the domain,
    and the person counts as vouched for by the CRM from now on (``origin``)."""
    values = {"account": account, **values, "origin": Contact.Origin.CRM}
    contact, created = Contact.objects.select_for_update().get_or_create(email=email.strip().lower(), defaults=values)
    changed = [] if created else _apply_changes(contact, values)
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact, created, changed


@transaction.atomic
def opportunity_upsert(*, account: Account, external_id: str, values: dict) -> tuple[Opportunity, bool, list[str]]:
    """Create or update an opportunity by its CRM id."""
    opportunity = Opportunity.objects.select_for_update().filter(external_id=external_id).first()
    if opportunity is None:
        values = {"name": f"{account.name} opportunity", **values}
        return Opportunity.objects.create(account=account, external_id=external_id, **values), True, []
    changed = _apply_changes(opportunity, {"account": account, **values})
    if changed:
        opportunity.save(update_fields=[*changed, "updated_at"])
    return opportunity, False, changed


@transaction.atomic
def contract_upsert(*, account: Account, external_id: str, values: dict) -> tuple[Contract, bool, list[str]]:
    """Create or update a contract (value, renewal date …) by its CRM id."""
    contract = Contract.objects.select_for_update().filter(external_id=external_id).first()
    if contract is None:
        return Contract.objects.create(account=account, external_id=external_id, **values), True, []
    changed = _apply_changes(contract, {"account": account, **values})
    if changed:
        contract.save(update_fields=[*changed, "updated_at"])
    return contract, False, changed
