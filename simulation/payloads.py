"""What the simulated market's clients send: Segment calls, signed webhook items, inbound e-mail posts."""

from __future__ import annotations

import base64
import datetime as dt

from django.conf import settings

from simulation.market import Event


def allowed_host() -> str:
    """A host name the settings accept (the test client's default ``testserver`` usually is not)."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")]
    return hosts[0] if hosts else "localhost"


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def segment_call(e: Event) -> dict:
    call = {"messageId": e.id, "timestamp": iso(e.occurred_at), "userId": e.user_id}
    if e.kind == "identify":
        return {**call, "type": "identify", "traits": dict(e.properties)}
    if e.kind == "page_view":
        props = {k: v for k, v in e.properties.items() if k != "user_agent"}
        return {**call, "type": "page", "name": props.get("title", ""), "properties": props,
                "context": {"userAgent": e.properties.get("user_agent", "")}}  # fmt: skip
    return {**call, "type": "track", "event": e.name, "properties": dict(e.properties)}


def generic_item(e: Event) -> dict:
    return {"kind": e.kind, "id": e.id, "occurred_at": iso(e.occurred_at), "contact_email": e.contact,
            "name": e.name or e.kind, "properties": dict(e.properties)}  # fmt: skip


def email_post(e: Event) -> dict:
    headers = {"Message-ID": f"<{e.id}>", "In-Reply-To": f"<{e.in_reply_to}>", "References": f"<{e.in_reply_to}>",
               "Date": e.occurred_at.strftime("%a, %d %b %Y %H:%M:%S +0000"), **e.headers}  # fmt: skip
    raw = "".join(f"{k}: {v}\n" for k, v in headers.items())
    return {"from": e.contact, "to": "sales@salesai.example", "subject": e.subject, "text": e.body, "headers": raw}
