"""Writes to accounts. Every write is one named service with keyword-only arguments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Account, AccountPicture, AssignmentRule, Contact, Contract, Opportunity, OpportunityChange
from salesai import clock


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


@dataclass
class OpportunitySync:
    """What one CRM opportunity upsert did: the row, whether it is new, what changed, and the e-mails of
    its ``contacts`` list that were not linked (not a person of this account nor at its domain)."""

    opportunity: Opportunity
    created: bool
    changed: list[str] = field(default_factory=list)
    closed_as: str = ""  # "won" or "lost" when this sync closed the deal
    ignored_contacts: list[str] = field(default_factory=list)


def _deal_contacts(account: Account, emails: list[str]) -> tuple[list[Contact], list[str]]:
    """The people of ``emails`` who may be linked to a deal of ``account``: its own contacts, and
    addresses at its domain (created, vouched for by the CRM). Anyone else — another account's person,
    a stranger on another domain — is left out, so a CRM record cannot tie them to this deal."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails))
    known = {c.email: c for c in Contact.objects.filter(email__in=wanted)}
    linked, ignored = [], []
    for email in wanted:
        contact = known.get(email)
        if contact is not None and contact.account_id == account.pk:
            linked.append(contact)
        elif contact is None and Contact(email=email).is_at_domain(account.domain):
            linked.append(Contact.objects.create(account=account, email=email, origin=Contact.Origin.CRM))
        else:
            ignored.append(email)
    return linked, ignored


def _link_deal_people(opportunity: Opportunity, people: list[Contact]) -> bool:
    """Link ``people`` to the deal in the CRM's order (its first is the primary contact, the deal's
    champion: ``recommendations.playbooks.base.champion_of`` reads the links by id). Django's
    ``set()`` adds through a set of ids and loses that order, so the links are rewritten in order
    whenever the people or their order differ. True when something changed."""
    through = Opportunity.contacts.through
    linked = list(through.objects.filter(opportunity=opportunity).order_by("id").values_list("contact_id", flat=True))
    if linked == [c.pk for c in people]:
        return False
    through.objects.filter(opportunity=opportunity).delete()
    through.objects.bulk_create([through(opportunity=opportunity, contact=c) for c in people])
    return True


def _record_change(opportunity: Opportunity, name: str, old, new, at: dt.datetime, reported: bool) -> None:
    OpportunityChange.objects.create(
        opportunity=opportunity,
        field=name,
        old_value="" if old is None else str(old),
        new_value="" if new is None else str(new),
        changed_at=at,
        reported_by_crm=reported,
    )


@transaction.atomic
def opportunity_upsert(*, account: Account, external_id: str, values: dict) -> OpportunitySync:
    """Create or update an opportunity by its CRM id, keeping its history.

    A change of stage, close date or status is recorded as an ``OpportunityChange``. When the CRM gives
    no ``stage_changed_at``, the deal entered its stage when salesai first saw it there (now). A
    ``contacts`` list (e-mails) replaces the deal's people, linking only :func:`_deal_contacts`."""
    values = dict(values)
    emails = values.pop("contacts", None)
    reported_at = values.pop("stage_changed_at", None)
    now = clock.now()
    opportunity = Opportunity.objects.select_for_update().filter(external_id=external_id).first()
    created = opportunity is None
    if created:
        values = {"name": f"{account.name} opportunity", **values}
        opportunity = Opportunity.objects.create(
            account=account, external_id=external_id, stage_changed_at=reported_at or now, **values
        )
        _record_change(opportunity, "stage", None, opportunity.stage, opportunity.stage_changed_at, bool(reported_at))
        changed = []
        before = {"status": Opportunity.Status.OPEN}
    else:
        before = {name: getattr(opportunity, name) for name in ("stage", "close_date", "status")}
        changed = _apply_changes(opportunity, {"account": account, **values})
        if "stage" in changed:
            opportunity.stage_changed_at = reported_at or now
            changed.append("stage_changed_at")
        elif reported_at and opportunity.stage_changed_at != reported_at:
            opportunity.stage_changed_at = reported_at  # the CRM knows better when it entered this stage
            changed.append("stage_changed_at")
        if changed:
            opportunity.save(update_fields=[*changed, "updated_at"])
        for name in ("stage", "close_date", "status"):
            if name in changed:
                at = opportunity.stage_changed_at if name == "stage" else now
                _record_change(opportunity, name, before[name], getattr(opportunity, name), at, bool(reported_at))
    ignored: list[str] = []
    if emails is not None:
        people, ignored = _deal_contacts(account, emails)
        if _link_deal_people(opportunity, people):
            changed.append("contacts")
    closed_as = ""
    if opportunity.status != before["status"] and opportunity.status != Opportunity.Status.OPEN:
        closed_as = opportunity.status
        if created:
            _record_change(opportunity, "status", Opportunity.Status.OPEN, opportunity.status, now, False)
    return OpportunitySync(opportunity, created, changed, closed_as, ignored)


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
