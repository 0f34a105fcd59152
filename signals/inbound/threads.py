"""Which outreach an inbound e-mail answers (DESIGN.md §4): In-Reply-To / References → the
``email_sent`` signal with that Message-ID; else the sender's latest outreach; else the sender's company."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Account, Contact
from accounts.selectors import contact_by_email
from signals.identity.domains import account_for_domain, registrable_domain
from signals.models import Signal


@dataclass(frozen=True)
class Thread:
    outreach: Signal | None
    account: Account | None
    contact: Contact | None
    threaded_by: str  # "in_reply_to", "references", "sender", "domain" or "none"


def _id_variants(message_ids: list[str]) -> list[str]:
    variants: list[str] = []
    for mid in message_ids:
        bare = mid.strip().strip("<>")
        variants += [f"<{bare}>", bare]
    return variants


def find_outreach_by_message_ids(message_ids: list[str]) -> Signal | None:
    """The ``email_sent`` signal one of these Message-IDs names; the first id in the list wins."""
    if not message_ids:
        return None
    sent = {
        s.message_id.strip().strip("<>"): s
        for s in Signal.objects.select_related("account", "contact").filter(
            kind=Signal.Kind.EMAIL_SENT, message_id__in=_id_variants(message_ids)
        )
    }
    for mid in message_ids:
        if mid.strip().strip("<>") in sent:
            return sent[mid.strip().strip("<>")]
    return None


def latest_outreach_to(contact: Contact) -> Signal | None:
    return (
        Signal.objects.select_related("account", "contact")
        .filter(kind=Signal.Kind.EMAIL_SENT, contact=contact)
        .order_by("-occurred_at", "-pk")
        .first()
    )


def _account_for_sender_domain(email_address: str) -> Account | None:
    """The existing account of a business sender's domain; free-mail and disposable domains find none."""
    return account_for_domain(registrable_domain(email_address), create=False)


def thread_email(*, in_reply_to: str = "", references: list[str] | None = None, sender_email: str = "") -> Thread:
    """Which outreach, account and person an inbound e-mail belongs to (DESIGN.md §4)."""
    sender = contact_by_email(sender_email) if sender_email else None
    if in_reply_to:
        outreach = find_outreach_by_message_ids([in_reply_to])
        if outreach is not None:
            return Thread(outreach, outreach.account, sender or outreach.contact, "in_reply_to")
    if references:
        outreach = find_outreach_by_message_ids(list(reversed(references)))
        if outreach is not None:
            return Thread(outreach, outreach.account, sender or outreach.contact, "references")
    if sender is not None:
        outreach = latest_outreach_to(sender)
        return Thread(outreach, sender.account or (outreach.account if outreach else None), sender, "sender")
    account = _account_for_sender_domain(sender_email) if sender_email else None
    if account is not None:
        return Thread(None, account, None, "domain")
    return Thread(None, None, None, "none")
