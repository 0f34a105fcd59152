"""A person switches a recommendation to another contact of its account (issue 14, finding 7).

The approval binds the version a person saw (and its recipient), so a switch is a new version; the
draft's greeting follows the new person ("Hi Ines," → "Hi Jordan,"), nothing else of the wording
changes. Only a recommendation awaiting review can be switched, only to a contact of the same account
who may be contacted."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Contact
from audit.services import audit_record
from recommendations.models import Recommendation
from recommendations.services.review import ReviewError, _sync, locked
from salesai import clock


def _greeting(body: str, old: str, new: str) -> str:
    first, sep, rest = body.partition("\n")
    if old and first.strip() in (f"Hi {old},", f"Hello {old},", f"Dear {old},"):
        return first.replace(old, new, 1) + sep + rest
    return body


def change_contact(*, recommendation: Recommendation, contact_id: int, user) -> Recommendation:
    """Send it to ``contact_id`` instead (one transaction, audited; a new version)."""
    with transaction.atomic():
        rec = locked(recommendation)
        if rec.status not in (Recommendation.Status.PENDING, Recommendation.Status.SNOOZED):
            raise ReviewError(
                f"This recommendation is {rec.get_status_display().lower()}; only one awaiting review can be "
                "sent to someone else."
            )
        contact = Contact.objects.filter(pk=contact_id, account_id=rec.account_id).first()
        if contact is None:
            raise ReviewError(
                "Choose a contact of this account.", code="invalid", status_code=400, fields={"contact": "Not one."}
            )
        if contact.do_not_contact:
            raise ReviewError(
                f"{contact.display_name} is marked do-not-contact.",
                code="invalid",
                status_code=400,
                fields={"contact": "Do not contact."},
            )
        if contact.pk == rec.contact_id:
            return recommendation
        before = rec.contact
        rec.draft_body = _greeting(rec.draft_body, before.first_name if before else "there", contact.first_name)
        rec.contact = contact
        rec.version += 1
        rec.updated_at = clock.now()
        rec.save(update_fields=["contact", "draft_body", "version", "updated_at"])
        audit_record(
            action="recommendation.contact_changed",
            actor=user,
            reference=f"recommendation:{rec.pk}",
            data={"from": before.pk if before else None, "to": contact.pk, "version": rec.version},
        )
    _sync(recommendation, rec)
    recommendation.contact = rec.contact
    return recommendation
