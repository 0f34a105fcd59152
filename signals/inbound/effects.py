"""What a stored reply may change, and only for a verified sender: an unsubscribe marks them
do-not-contact, a referral adds the named colleague when their address is at the account's domain.
What a reply asked for that was not done is kept on its signal (``effect_withheld``) for a rep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from accounts.models import Account, Contact
from accounts.services import contact_mark_do_not_contact
from audit.services import audit_record
from salesai.text import single_line
from signals.inbound.mailauth import SenderVerdict
from signals.inbound.threads import Thread
from signals.intent import ReplyClassification
from signals.models import Signal

_SELF_EFFECTS = {
    "unsubscribe": "Unsubscribe",
    "wrong_person": "“Wrong person”",
    "not_interested": "“Not interested”",
}


@dataclass(frozen=True)
class ReplyEffects:
    """What a stored reply may change. Decided before storing, so the signal says what was held back."""

    unsubscribe: bool = False  # mark the contact do-not-contact
    add_referral: bool = False  # create (or fill in) the referred colleague on the account
    withheld: str = ""  # what the reply asked for that was not done, and why (for the rep)
    referral_not_added: str = ""  # why a named colleague stays a suggestion

    def as_properties(self) -> dict:
        return {"effect_withheld": self.withheld} if self.withheld else {}


def _is_at_domain(address: str, domain: str) -> bool:
    return Contact(email=address).is_at_domain(domain)


def plan_reply_effects(
    *, result: ReplyClassification, verdict: SenderVerdict, thread: Thread, sender_email: str
) -> ReplyEffects:
    """Only a verified sender changes who may be contacted, and only for themselves (an unsubscribe,
    "wrong person", "not interested") or, writing for the account, by naming a colleague at the
    account's own domain. Everything else the reply says stays on the signal for a rep to judge."""
    if result.is_auto_reply:
        return ReplyEffects()
    contact = thread.contact
    if result.intent in _SELF_EFFECTS and contact is not None:
        if not verdict.verified:
            why = "the sender is not verified"
        elif contact.email != sender_email:
            why = f"it was written by {sender_email}, not by them"
        else:
            return ReplyEffects(unsubscribe=result.intent == Signal.Intent.UNSUBSCRIBE)
        return ReplyEffects(withheld=f"{_SELF_EFFECTS[result.intent]} not applied to {contact.email}: {why}.")
    referral = result.referral
    if result.intent != Signal.Intent.REFERRAL or referral is None or not referral.email:
        return ReplyEffects()
    account = thread.account
    writes_for_account = account is not None and (
        _is_at_domain(sender_email, account.domain)
        or (contact is not None and contact.email == sender_email and contact.account_id == account.pk)
    )
    if account is None:
        why = "there is no account to add them to"
    elif not _is_at_domain(referral.email, account.domain):
        why = f"it is outside {account.domain}"
    elif not verdict.verified:
        why = "the sender is not verified"
    elif not writes_for_account:
        why = f"{sender_email} does not write for {account.domain}"
    else:
        return ReplyEffects(add_referral=True)
    return ReplyEffects(
        withheld=f"{sender_email} suggested talking to {referral.email}: not added, as {why}.",
        referral_not_added=why,
    )


def apply_reply_effects(
    *, signal: Signal, result: ReplyClassification, effects: ReplyEffects, occurred_at: datetime
) -> None:
    """Do what :func:`plan_reply_effects` allowed: stop (unsubscribe) or add the named colleague."""
    if effects.unsubscribe and signal.contact is not None:
        contact_mark_do_not_contact(
            contact=signal.contact, reason=f"Unsubscribed by reply on {occurred_at.date().isoformat()}"
        )
        audit_record(
            action="contact.unsubscribed",
            reference=f"signal:{signal.pk}",
            data={"contact_id": signal.contact_id, "email": signal.contact.email, "signal_id": signal.pk},
        )
    if effects.add_referral and result.referral is not None and signal.account is not None:
        contact = referral_contact_upsert(
            account=signal.account, name=result.referral.name, email=result.referral.email, signal=signal
        )
        if contact is not None:
            signal.properties["referral"]["contact_id"] = contact.pk
            signal.save(update_fields=["properties"])


def referral_contact_upsert(*, account: Account, name: str, email: str, signal: Signal) -> Contact | None:
    """Create the referred person on the replying account (``origin=email``: an e-mail vouched for
    them), or fill in what we did not know about them. Callers have checked that ``email`` is at the
    account's domain and that a verified sender named them.

    A person already known on another account stays there (we never move people between accounts on
    the strength of one e-mail), and only empty fields are filled: the CRM and the admin own the rest."""
    email = email.strip().lower()
    name = single_line(name, max_length=200)
    existing = Contact.objects.select_for_update().filter(email=email).first()
    if existing is None:
        contact = Contact.objects.create(account=account, email=email, name=name, origin=Contact.Origin.EMAIL)
        audit_record(
            action="contact.created_from_referral",
            reference=f"signal:{signal.pk}",
            data={"contact_id": contact.pk, "email": email, "name": name, "account_id": account.pk},
        )
        return contact
    changed = []
    if not existing.name and name:
        existing.name = name
        changed.append("name")
    if existing.account_id is None:
        existing.account = account
        changed.append("account")
    if changed:
        existing.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="contact.updated_from_referral",
            reference=f"signal:{signal.pk}",
            data={"contact_id": existing.pk, "changed": changed},
        )
    return existing
