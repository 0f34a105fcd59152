"""The providers' inbound formats: SendGrid Inbound Parse fields and Mailgun route fields (or the raw
message either sends), each read into one :class:`~signals.inbound.message.InboundEmail`; and
Mailgun's signature on its posts."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser, HeaderParser
from email.policy import default as default_policy

from anymail.inbound import AnymailInboundMessage
from django.conf import settings

from salesai import clock
from salesai.text import single_line
from signals.autoreply import normalise_headers
from signals.inbound.message import (
    InboundEmail,
    InboundError,
    construct_message,
    email_from_message,
    header_items,
    header_value,
    parse_raw_mime,
)

SIGNATURE_TOLERANCE = timedelta(minutes=5)


def _sendgrid_bodies_in_their_charsets(post, *, raw_body: bytes | None, content_type: str) -> dict[str, str]:
    """``text``/``html`` re-decoded in the charsets SendGrid declares (``charsets`` JSON), when they
    are not UTF-8: Django decoded every form field as UTF-8. Needs the raw form body (as anymail does)."""
    try:
        charsets = json.loads(post.get("charsets", "{}"))
    except ValueError:
        return {}
    if not isinstance(charsets, dict) or not raw_body or not content_type:
        return {}
    wanted = {
        name: str(charsets[name]).lower()
        for name in ("text", "html")
        if name in post and str(charsets.get(name, "utf-8")).lower().replace("-", "") not in {"utf8", ""}
    }
    if not wanted:
        return {}
    decoded: dict[str, str] = {}
    try:
        form = BytesParser(policy=default_policy).parsebytes(
            b"Content-Type: " + content_type.encode("ascii") + b"\r\n\r\n" + raw_body
        )
        for part in form.get_payload() or []:
            name = part.get_param("name", header="content-disposition")
            if name in wanted:
                decoded[name] = part.get_payload(decode=True).decode(wanted[name], errors="replace")
    except (LookupError, UnicodeError, ValueError, AttributeError, TypeError):
        return {}
    return decoded


def parse_sendgrid(post, *, raw_body: bytes | None = None, content_type: str = "") -> InboundEmail:
    """SendGrid Inbound Parse fields: ``headers``, ``from``, ``to``, ``subject``, ``text``, ``html``,
    ``envelope`` (JSON) … or ``email`` (the raw message, "send raw" mode). ``raw_body`` and
    ``content_type`` (the whole form) let bodies in other charsets than UTF-8 be decoded right."""
    envelope_from = ""
    if "envelope" in post:
        try:
            envelope = json.loads(post["envelope"])
            envelope_from = str(envelope.get("from") or "") if isinstance(envelope, dict) else ""
            if not isinstance(envelope, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise InboundError(
                "The envelope is not valid JSON.",
                code="invalid_envelope",
                fields={"envelope": "Expected a JSON object."},
            ) from exc
    if "email" in post:
        email = parse_raw_mime(post["email"], provider="sendgrid")
    else:
        raw_headers = post.get("headers", "")
        try:
            headers = header_items(HeaderParser(policy=default_policy).parsestr(raw_headers))
        except Exception as exc:  # noqa: BLE001 — the email package raises many kinds on bad headers
            raise InboundError(
                "The headers field could not be parsed.", code="malformed_headers", fields={"headers": str(exc)[:200]}
            ) from exc
        if "text" not in post and "html" not in post:
            raise InboundError(
                "The e-mail has no body.",
                code="missing_body",
                fields={"text": "Send 'text' or 'html' (or the raw message as 'email')."},
            )
        if not post.get("from") and not normalise_headers(headers).get("from"):
            raise InboundError(
                "The sender is missing.", code="invalid_sender", fields={"from": "This field is required."}
            )
        bodies = {"text": post.get("text"), "html": post.get("html")}
        bodies |= _sendgrid_bodies_in_their_charsets(post, raw_body=raw_body, content_type=content_type)
        # The form's own from/subject (what SendGrid decoded for us) win over the raw headers; decoded,
        # they may hold line breaks, which no header may.
        sender = single_line(post.get("from"))
        subject = single_line(post["subject"]) if "subject" in post else None
        message = construct_message(
            raw_headers=raw_headers or None,
            from_email=sender or None,
            to=single_line(post.get("to")) or None,
            subject=subject,
            text=bodies["text"] or None,
            html=bodies["html"] or None,
        )
        if sender:
            headers = [(k, v) for k, v in headers if k.lower() != "from"] + [("From", sender)]
        if subject is not None:
            headers = [(k, v) for k, v in headers if k.lower() != "subject"] + [("Subject", subject)]
        email = email_from_message(message, provider="sendgrid", headers=headers)
    email.envelope_from = envelope_from.lower()
    email.provider_verdicts = {"spf": post.get("SPF", ""), "dkim": post.get("dkim", "")}
    return email


def parse_mailgun(post) -> InboundEmail:
    """Mailgun route (forward) fields: ``message-headers`` (JSON list of pairs), ``body-plain``,
    ``body-html``, ``stripped-text``, ``sender``, ``timestamp``, ``token``, ``signature`` … or
    ``body-mime`` (the raw message)."""
    if "body-mime" in post:
        email = parse_raw_mime(post["body-mime"], provider="mailgun")
    else:
        if "message-headers" not in post:
            raise InboundError(
                "The Mailgun payload has no message headers.",
                code="missing_headers",
                fields={"message-headers": "This field is required (or send body-mime)."},
            )
        try:
            pairs = json.loads(post["message-headers"])
            headers = [(str(name), header_value(str(name), str(value))) for name, value in pairs]
        except (ValueError, TypeError) as exc:
            raise InboundError(
                "message-headers is not a JSON list of [name, value] pairs.",
                code="invalid_headers",
                fields={"message-headers": "Expected a JSON list of [name, value] pairs."},
            ) from exc
        if "body-plain" not in post and "body-html" not in post:
            raise InboundError(
                "The e-mail has no body.", code="missing_body", fields={"body-plain": "Send body-plain or body-html."}
            )
        if post.get("from") and not normalise_headers(headers).get("from"):
            headers.append(("From", header_value("From", post["from"])))
        try:
            message = AnymailInboundMessage.construct(
                headers=headers, text=post.get("body-plain") or None, html=post.get("body-html") or None
            )
        except Exception as exc:  # noqa: BLE001 — the email package raises many kinds on bad headers
            raise InboundError(
                "message-headers contains an invalid header.",
                code="invalid_headers",
                fields={"message-headers": str(exc)[:200]},
            ) from exc
        email = email_from_message(message, provider="mailgun", headers=headers, fallback_from=post.get("sender", ""))
    email.envelope_from = post.get("sender", "").lower()
    email.event_id = post.get("token", "")
    email.provider_stripped_text = post.get("stripped-text", "")
    return email


def mailgun_signing_key() -> str:
    return (getattr(settings, "ANYMAIL", {}) or {}).get("MAILGUN_WEBHOOK_SIGNING_KEY") or ""


def verify_mailgun_signature(*, timestamp: str, token: str, signature: str, signing_key: str) -> bool:
    expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def check_mailgun(post) -> datetime:
    """Verify Mailgun's signature and freshness; return the delivery time."""
    missing = {name: "This field is required." for name in ("timestamp", "token", "signature") if not post.get(name)}
    if missing:
        raise InboundError(
            "Mailgun's signature fields are missing.", code="signature_missing", fields=missing, status_code=401
        )
    key = mailgun_signing_key()
    if not key:
        raise InboundError(
            "Mailgun signatures cannot be verified: MAILGUN_WEBHOOK_SIGNING_KEY is not configured.",
            code="signature_unverifiable",
            fields={"signature": "Configure MAILGUN_WEBHOOK_SIGNING_KEY or use HTTP Basic auth."},
            status_code=401,
        )
    if not verify_mailgun_signature(
        timestamp=post["timestamp"], token=post["token"], signature=post["signature"], signing_key=key
    ):
        raise InboundError(
            "The Mailgun signature does not match.",
            code="invalid_signature",
            fields={"signature": "HMAC-SHA256 of timestamp+token with the webhook signing key."},
            status_code=401,
        )
    try:
        sent_at = datetime.fromtimestamp(int(post["timestamp"]), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise InboundError(
            "The timestamp is not a Unix time.", code="invalid_timestamp", fields={"timestamp": "Seconds since 1970."}
        ) from exc
    if abs(clock.now() - sent_at) > SIGNATURE_TOLERANCE:
        raise InboundError(
            "The Mailgun timestamp is more than 5 minutes away from now.",
            code="stale_timestamp",
            fields={"timestamp": "Deliveries older than 5 minutes are refused (replay protection)."},
            status_code=401,
        )
    return sent_at
