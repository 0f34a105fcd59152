"""Bounces (delivery-status notifications): stored as ``email_bounced``, and allowed to stop outreach
to their recipient only when they name our own e-mail by Message-ID."""

from __future__ import annotations

import re
from datetime import datetime
from email.parser import HeaderParser
from email.policy import default as default_policy

from accounts.selectors import contact_by_email
from signals.inbound.mailauth import SenderVerdict
from signals.inbound.message import InboundEmail, base_properties, external_id_for, parse_message_ids
from signals.inbound.text import html_to_text
from signals.inbound.threads import find_outreach_by_message_ids, latest_outreach_to
from signals.models import Signal, Source
from signals.storing import record_signal

_DSN_FIELD = re.compile(r"^(Final-Recipient|Original-Recipient|Action|Status|Diagnostic-Code)\s*:\s*(.+)$", re.I | re.M)


def bounce_details(email: InboundEmail) -> dict:
    """Recipient, status and the original Message-ID of a delivery-status notification."""
    chunks: list[str] = [email.text or ""]
    original_ids: list[str] = []
    if email.message is not None:
        for part in email.message.walk():
            content_type = part.get_content_type()
            if content_type == "message/delivery-status":
                for block in part.get_payload() or []:
                    chunks.append("\n".join(f"{k}: {v}" for k, v in block.items()))
            elif content_type == "message/rfc822":
                payload = part.get_payload()
                inner = payload[0] if isinstance(payload, list) and payload else None
                if inner is not None and inner.get("Message-ID"):
                    original_ids += parse_message_ids(str(inner["Message-ID"]))
            elif content_type == "text/rfc822-headers":
                try:
                    headers = HeaderParser(policy=default_policy).parsestr(part.get_content())
                    original_ids += parse_message_ids(str(headers.get("Message-ID", "")))
                except (LookupError, KeyError, UnicodeError):
                    pass
    joined = "\n".join(chunks)
    details: dict = {}
    for name, value in _DSN_FIELD.findall(joined):
        details.setdefault(name.lower().replace("-", "_"), value.strip()[:300])
    if not original_ids:
        found = re.search(r"^\s*Message-ID:\s*(<[^>\s]+>)", joined, re.I | re.M)
        if found:
            original_ids.append(found.group(1))
    recipient = details.get("final_recipient") or details.get("original_recipient") or ""
    recipient = recipient.split(";", 1)[-1].strip().lower()
    status = details.get("status", "")
    return {
        "recipient": recipient,
        "status": status,
        "action": details.get("action", ""),
        "diagnostic": details.get("diagnostic_code", ""),
        "bounce_type": "hard" if status.startswith("5") else "soft" if status.startswith("4") else "",
        "original_message_ids": original_ids,
    }


def record_bounce(*, source: Source, email: InboundEmail, occurred_at: datetime) -> tuple[Signal, bool]:
    """A bounce stops outreach to its recipient only when it names our own e-mail by Message-ID: any
    server can send a well-formed report (even DKIM-signed for its own domain) naming any address."""
    details = bounce_details(email)
    ids = [i for i in [email.in_reply_to, *reversed(email.references), *details["original_message_ids"]] if i]
    outreach = find_outreach_by_message_ids(ids)
    contact = outreach.contact if outreach is not None else None
    threaded_by = "message_id" if outreach is not None else "none"
    if outreach is None and details["recipient"]:
        contact = contact_by_email(details["recipient"])
        if contact is not None:
            outreach, threaded_by = latest_outreach_to(contact), "recipient"
    account = outreach.account if outreach is not None else (contact.account if contact else None)
    if threaded_by == "message_id":
        verdict = SenderVerdict(True, "thread", f"reports on our e-mail {outreach.message_id[:200]}")
    else:
        verdict = SenderVerdict(False, "none", "it names none of our e-mails by Message-ID")
    properties = (
        base_properties(email)
        | {
            "bounce": details,
            "threaded_by": threaded_by,
            "text": (email.text or html_to_text(email.html, limit=2000))[:2000],
        }
        | verdict.as_properties()
    )
    if contact is not None and not verdict.verified:
        properties["effect_withheld"] = f"Bounce not applied to {contact.email}: {verdict.detail}."
    return record_signal(
        source=source,
        kind=Signal.Kind.EMAIL_BOUNCED,
        external_id=external_id_for(email),
        occurred_at=occurred_at,
        account=account,
        contact=contact,
        properties=properties,
        message_id=email.message_id[:500],
        in_reply_to=outreach,
        is_auto_reply=True,
    )
