"""What approving a recommendation will really send: From, To, Cc, subject and body, or why nothing can be.

One function serves both the executor (which builds the e-mail from it) and the inbox (which shows it
before a person approves), so the card can never promise one e-mail while the executor sends another:
an internal escalation shows the managers as recipients and the internal notice as its body, not the
customer-facing draft. It reads no database of its own: the caller passes the managers' addresses
(one query per page, not per row)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formataddr

from django.conf import settings
from django.template.loader import render_to_string

from recommendations.models import Recommendation
from recommendations.playbooks import action_for
from salesai.roles import manager_addresses, person_name
from salesai.text import has_line_break


@dataclass(frozen=True)
class Outgoing:
    """The e-mail an approval leads to. ``refusal`` is why none would go out ('' when one would)."""

    kind: str  # "email" (to the customer) or "internal_notice" (to the owner or the managers)
    from_header: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)  # header values ("Name <address>")
    to_addresses: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    refusal: str = ""
    recipient_names: list[str] = field(default_factory=list)  # for "Sending to Ines …"

    @property
    def can_send(self) -> bool:
        return not self.refusal


def escalates(rec: Recommendation) -> bool:
    """Whether its notice goes to the managers (the owner in copy) rather than to the owner alone."""
    action = action_for(rec.action_type)
    return action is not None and action.escalate


def sender(rec: Recommendation) -> tuple[str, str]:
    """(From header, address): the owner rep's own address and name, else DEFAULT_FROM_EMAIL."""
    owner = rec.account.owner
    if owner is not None and owner.email:
        name = person_name(owner)
        return formataddr((name, owner.email)), owner.email
    return settings.DEFAULT_FROM_EMAIL, settings.DEFAULT_FROM_EMAIL


def _internal(rec: Recommendation, managers: list[str]) -> Outgoing:
    owner = rec.account.owner
    owner_email = owner.email if owner is not None else ""
    escalation = escalates(rec)
    if escalation:
        to = managers or ([owner_email] if owner_email else [])
        cc = [owner_email] if owner_email and owner_email not in to else []
    else:
        to, cc = ([owner_email] if owner_email else []), []
    prefix = "Escalation" if escalation else "Task"
    subject = f"[salesai] {prefix}: {rec.title}"[:300]
    if not to:
        return Outgoing(
            kind="internal_notice",
            subject=subject,
            refusal="No one to notify: the account has no owner with an e-mail address and there are no managers.",
        )
    body = render_to_string(
        "recommendations/email/internal_notice.txt",
        {
            "rec": rec,
            "account": rec.account,
            "escalation": escalation,
            "owner_name": person_name(owner) if owner else "nobody",
        },
    ).strip()
    names = ["the managers"] if escalation and managers else [person_name(owner)]
    return Outgoing(
        kind="internal_notice",
        from_header=settings.DEFAULT_FROM_EMAIL,
        to=to,
        to_addresses=to,
        cc=cc,
        subject=subject,
        body=body,
        recipient_names=names,
    )


def outgoing_for(rec: Recommendation, *, managers: list[str] | None = None) -> Outgoing:
    """The e-mail approving ``rec`` sends now (its account, owner and contact loaded by the caller).

    ``managers``: :func:`manager_addresses`, needed only for escalations (read when omitted)."""
    if rec.is_internal:
        return _internal(rec, manager_addresses() if managers is None and escalates(rec) else managers or [])
    from_header, from_address = sender(rec)
    contact = rec.contact
    base = {"kind": "email", "from_header": from_header, "subject": rec.draft_subject or rec.title}
    if contact is None:
        return Outgoing(
            **base,
            body=rec.draft_body,
            refusal="No one to send it to: this account has no contact yet. Add one on the account page.",
        )
    to = formataddr((contact.name, contact.email)) if contact.name else contact.email
    full = {
        **base,
        "reply_to": from_address,
        "to": [to],
        "to_addresses": [contact.email],
        "body": rec.draft_body,
        "recipient_names": [contact.first_name or contact.display_name],
    }
    if contact.do_not_contact:
        reason = f"{contact.email} is marked do-not-contact"
        if contact.do_not_contact_reason:
            reason += f" ({contact.do_not_contact_reason})"
        return Outgoing(**full, refusal=reason + ": nothing can be sent.")
    if not rec.draft_body.strip():
        return Outgoing(**full, refusal="The draft is empty: nothing can be sent.")
    if has_line_break(rec.draft_subject):
        return Outgoing(**full, refusal="The subject has a line break, which no e-mail header may carry.")
    return Outgoing(**full)
