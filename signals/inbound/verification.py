"""Who sent an inbound e-mail: the receiving provider's verdict (``signals.inbound.mailauth``), or an
answer, threaded by Message-ID, from the very address our outreach went to."""

from __future__ import annotations

from email.utils import getaddresses

from django.conf import settings

from signals.inbound.mailauth import (
    SenderVerdict,
    authentication_results_verdict,
    mailgun_verdict,
    sendgrid_verdict,
)
from signals.inbound.message import InboundEmail
from signals.inbound.threads import Thread
from signals.models import Signal


def provider_verdict(email: InboundEmail) -> SenderVerdict:
    """What the receiving provider says about the From address (``signals.inbound.mailauth``): SendGrid's
    verdict fields, a signed Mailgun post's verdict headers, or an ``Authentication-Results`` header
    of a configured server (``INBOUND_EMAIL_AUTHSERV_IDS``). The first that vouches wins."""
    verdicts: list[SenderVerdict] = []
    if email.provider == "sendgrid":
        verdicts.append(
            sendgrid_verdict(
                spf=email.provider_verdicts.get("spf", ""),
                dkim=email.provider_verdicts.get("dkim", ""),
                envelope_from=email.envelope_from,
                from_email=email.from_email,
            )
        )
    elif email.provider == "mailgun":
        verdicts.append(
            mailgun_verdict(
                headers=email.headers,
                envelope_from=email.envelope_from,
                from_email=email.from_email,
                signed=email.signed,
            )
        )
    stamped = authentication_results_verdict(
        headers=email.headers,
        from_email=email.from_email,
        trusted_authserv_ids=getattr(settings, "INBOUND_EMAIL_AUTHSERV_IDS", ()),
    )
    if stamped is not None:
        verdicts.append(stamped)
    for verdict in verdicts:
        if verdict.verified:
            return verdict
    details = "; ".join(v.detail for v in verdicts) or f"{email.provider}: no SPF or DKIM verdict"
    return SenderVerdict(False, "none", details)


def outreach_recipients(outreach: Signal) -> set[str]:
    """The addresses an ``email_sent`` signal went to: its contact's, and any ``to`` it recorded."""
    recipients = {outreach.contact.email.lower()} if outreach.contact is not None else set()
    recorded = (outreach.properties or {}).get("to")
    values = [recorded] if isinstance(recorded, str) else recorded if isinstance(recorded, list) else []
    recipients |= {addr.lower() for _, addr in getaddresses([str(v) for v in values]) if "@" in addr}
    return recipients


def sender_verdict(email: InboundEmail, thread: Thread) -> SenderVerdict:
    """The provider's verdict, else: it answers (by Message-ID, which only its recipients saw) an
    e-mail we sent to this very address."""
    verdict = provider_verdict(email)
    if verdict.verified:
        return verdict
    threaded = thread.outreach is not None and thread.threaded_by in {"in_reply_to", "references"}
    if threaded and email.from_email in outreach_recipients(thread.outreach):
        return SenderVerdict(
            True, "thread", f"answers our e-mail {thread.outreach.message_id[:200]} to {email.from_email}"
        )
    return SenderVerdict(
        False, "none", f"{verdict.detail}; and it answers no e-mail of ours to {email.from_email}"[:500]
    )
