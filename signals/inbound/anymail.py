"""django-anymail's own inbound views (``anymail.urls``: ``/anymail/<esp>/inbound/``, which check the
ESP's signature and ``ANYMAIL["WEBHOOK_SECRET"]``) deliver into the same service as our endpoint.
``handle_anymail_inbound`` is connected to ``anymail.signals.inbound`` in ``signals.receivers``."""

from __future__ import annotations

import logging

from signals.inbound.message import InboundError, email_from_message
from signals.inbound.service import receive_inbound_email
from signals.models import Signal
from signals.sources import anymail_source

logger = logging.getLogger(__name__)


def handle_anymail_inbound(sender, event, esp_name: str, **kwargs) -> Signal | None:
    """Receiver for ``anymail.signals.inbound`` (anymail's ``/anymail/<esp>/inbound/`` views, which
    check the ESP's signature and ``ANYMAIL["WEBHOOK_SECRET"]``): stores the message exactly like
    ``POST /api/v1/inbound/email`` does, under the e-mail source ``anymail-<esp>``."""
    message = getattr(event, "message", None)
    if message is None:
        return None
    source = anymail_source(esp_name)
    try:
        email = email_from_message(message, provider=esp_name.lower())
    except InboundError:
        logger.warning("anymail inbound message without a usable sender; not stored", extra={"esp": esp_name})
        return None
    email.event_id = getattr(event, "event_id", None) or ""
    email.envelope_from = (getattr(message, "envelope_sender", None) or "").lower()
    email.provider_stripped_text = getattr(message, "stripped_text", None) or ""
    # anymail's views hand over the request: SendGrid's verdict fields are in its form, and its
    # Mailgun view refuses any post without a valid signature.
    post = getattr(getattr(event, "esp_event", None), "POST", None)
    if post is not None and email.provider == "sendgrid":
        email.provider_verdicts = {"spf": post.get("SPF", ""), "dkim": post.get("dkim", "")}
    email.signed = email.provider == "mailgun" and post is not None
    signal, _ = receive_inbound_email(source=source, email=email, received_at=getattr(event, "timestamp", None))
    return signal
