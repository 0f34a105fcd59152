"""CRM sync: accounts upserted by domain with their contacts (by e-mail), opportunities and contracts
(by external id), from ``POST /api/v1/crm/accounts`` and ``manage.py import_crm``. The CRM owns these
fields (DESIGN.md §7); each change is a ``crm_updated`` signal, so analysis looks again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Opportunity
from accounts.services import account_upsert, contact_upsert, contract_upsert, opportunity_upsert
from audit.services import audit_record
from salesai import clock
from signals.identity.traits import guess_seniority
from signals.models import Signal
from signals.queries import SignalDraft
from signals.sources import crm_source
from signals.storing import store_signals


@dataclass
class CrmAccountOutcome:
    id: int
    domain: str
    created: bool
    changed: list[str]


@dataclass
class CrmSyncResult:
    accounts: list[CrmAccountOutcome] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for a in self.accounts if a.created)

    @property
    def updated(self) -> int:
        return sum(1 for a in self.accounts if a.changed and not a.created)

    @property
    def unchanged(self) -> int:
        return sum(1 for a in self.accounts if not a.changed and not a.created)


_ACCOUNT_FIELDS = ("name", "owner", "segment", "arr", "strategic", "external_id")
_CONTACT_FIELDS = ("name", "title", "do_not_contact", "do_not_contact_reason")


def crm_sync_account(*, record: dict, actor=None) -> CrmAccountOutcome:
    """Upsert one CRM account with its contacts, opportunities and contracts by their natural keys
    (domain, e-mail, external_id), in one transaction. When anything changed, a ``crm_updated``
    signal names what, so analysis looks at the account again."""
    with transaction.atomic():
        values = {key: record[key] for key in _ACCOUNT_FIELDS if key in record}
        account, created, changed = account_upsert(domain=record["domain"], values=values)
        changes: dict[str, list] = {"account": changed} if changed else {}
        for contact in record.get("contacts", []):
            contact_values = {k: contact[k] for k in _CONTACT_FIELDS if k in contact}
            if "title" in contact_values:
                contact_values["seniority"] = guess_seniority(contact_values["title"])
            _, new, fields_changed = contact_upsert(account=account, email=contact["email"], values=contact_values)
            if new or fields_changed:
                changes.setdefault("contacts", []).append(contact["email"])
        closed: list[SignalDraft] = []
        ignored: list[str] = []
        for item in record.get("opportunities", []):
            synced = opportunity_upsert(account=account, external_id=item["external_id"], values=_values(item))
            if synced.created or synced.changed:
                changes.setdefault("opportunities", []).append(item["external_id"])
            if synced.closed_as:
                closed.append(deal_closed_signal(synced.opportunity))
            ignored += synced.ignored_contacts
        for item in record.get("contracts", []):
            _, new, fields_changed = contract_upsert(
                account=account, external_id=item["external_id"], values=_values(item)
            )
            if new or fields_changed:
                changes.setdefault("contracts", []).append(item["external_id"])
        outcome = CrmAccountOutcome(id=account.pk, domain=account.domain, created=created, changed=sorted(changes))
        if created or changes:
            store_signals(
                source=crm_source(),
                drafts=[
                    *closed,
                    SignalDraft(
                        kind=Signal.Kind.CRM_UPDATED,
                        external_id=f"crm:{account.pk}:{uuid.uuid4().hex}",
                        occurred_at=clock.now(),
                        account_id=account.pk,
                        properties={"created": created, "changes": _jsonable(changes)},
                        name="Account created" if created else "Account updated",
                    ),
                ],
            )
            audit_record(
                action="crm.account_synced",
                actor=actor,
                reference=f"account:{account.pk}",
                data={
                    "domain": account.domain,
                    "created": created,
                    "changes": _jsonable(changes),
                    "deal_contacts_not_linked": sorted(set(ignored)),
                },
            )
    return outcome


@transaction.atomic
def crm_sync_accounts(*, records: list[dict], actor=None) -> CrmSyncResult:
    """Upsert many validated CRM accounts in one transaction (all or nothing)."""
    result = CrmSyncResult()
    for record in records:
        result.accounts.append(crm_sync_account(record=record, actor=actor))
    return result


def _values(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "external_id"}


def deal_closed_signal(opportunity: Opportunity) -> SignalDraft:
    """A won or lost deal is an outcome: one ``crm_updated`` signal named "Deal won"/"Deal lost" per
    deal and result (its external id makes a repeated sync store it once)."""
    return SignalDraft(
        kind=Signal.Kind.CRM_UPDATED,
        external_id=f"crm:deal:{opportunity.pk}:{opportunity.status}",
        occurred_at=clock.now(),
        account_id=opportunity.account_id,
        properties={
            "deal_outcome": opportunity.status,
            "opportunity_id": opportunity.pk,
            "external_id": opportunity.external_id,
            "amount": str(opportunity.amount),
            "stage": opportunity.stage,
        },
        name=f"Deal {opportunity.status}",
    )


def _jsonable(changes: dict) -> dict:
    return {key: [str(v) for v in values] for key, values in changes.items()}
