"""One inbound e-mail, whatever the provider: :class:`InboundEmail`, read from the provider's fields
or raw MIME with django-anymail's ``AnymailInboundMessage`` doing the MIME work, and what every signal
of an e-mail keeps of it.

Outside text that may reach a draft's subject or a line of its own (the Subject, the From name) is
made one line (``salesai.text.single_line``) before it is stored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header, decode_header
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime

from anymail.inbound import AnymailInboundMessage

from salesai import clock
from salesai.api_errors import DomainError
from salesai.text import single_line
from signals.autoreply import normalise_headers

_SUMMARY_HEADERS = (
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "list-id",
    "return-path",
    "content-type",
    "x-mailgun-sflag",
)


class InboundError(DomainError):
    """A refused inbound e-mail request (4xx in the error shape)."""


@dataclass
class InboundEmail:
    """One inbound e-mail, whatever the provider. ``headers`` are the original headers, in order."""

    provider: str  # "sendgrid", "mailgun" or "mime"
    from_email: str
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    date: datetime | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    event_id: str = ""  # the provider's id of this delivery (Mailgun token), when there is one
    provider_stripped_text: str = ""
    envelope_from: str = ""
    # SendGrid's own verdict fields ("SPF", "dkim"), posted beside the message where no sender can write
    provider_verdicts: dict[str, str] = field(default_factory=dict)
    signed: bool = False  # the post carried a valid provider signature (a Mailgun route)
    message: AnymailInboundMessage | None = None

    @property
    def header_map(self) -> dict[str, str]:
        return normalise_headers(self.headers)

    def without_nul(self) -> InboundEmail:
        """PostgreSQL text and jsonb cannot hold NUL characters; mail occasionally carries them."""
        for name in ("from_email", "from_name", "subject", "text", "html", "message_id", "in_reply_to"):
            setattr(self, name, no_nul(getattr(self, name)))
        self.to, self.references, self.headers = no_nul(self.to), no_nul(self.references), no_nul(self.headers)
        self.event_id, self.provider_stripped_text = no_nul(self.event_id), no_nul(self.provider_stripped_text)
        self.envelope_from = no_nul(self.envelope_from)
        self.provider_verdicts = no_nul(self.provider_verdicts)
        return self


def no_nul(value):
    """``value`` with NUL characters removed from every string in it (lists, tuples and dicts too)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [no_nul(v) for v in value]
    if isinstance(value, tuple):
        return tuple(no_nul(v) for v in value)
    if isinstance(value, dict):
        return {no_nul(k): no_nul(v) for k, v in value.items()}
    return value


_MSGID_RE = re.compile(r"<[^<>\s]+>")


def parse_message_ids(value: str | None) -> list[str]:
    """Message-IDs in a header value, as ``<id@host>``; a bare id without brackets is accepted."""
    if not value:
        return []
    found = _MSGID_RE.findall(value)
    if found:
        return found
    bare = value.strip()
    return [f"<{bare}>"] if bare and " " not in bare and "@" in bare else []


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _address(value: str | None, field_name: str, *, required: bool = True) -> tuple[str, str]:
    """``(addr, display name)`` of the first address in a header value, lower-cased."""
    pairs = [(name, addr) for name, addr in getaddresses([value or ""]) if addr and "@" in addr]
    if not pairs:
        if required:
            raise InboundError(
                "The sender address is missing or not an e-mail address.",
                code="invalid_sender",
                fields={field_name: "Give the sender as an address, e.g. 'Jane Doe <jane@acme.com>'."},
            )
        return "", ""
    name, addr = pairs[0]
    addr = addr.strip().lower()
    local, _, domain = addr.rpartition("@")
    if not local or "." not in domain or len(addr) > 254:
        if required:
            raise InboundError(
                "The sender address is not a valid e-mail address.",
                code="invalid_sender",
                fields={field_name: f"'{addr[:100]}' is not a valid e-mail address."},
            )
        return "", ""
    return addr, name.strip()


def _without_decoded_line_breaks(raw: str) -> str:
    """``raw`` with every RFC 2047 encoded word re-encoded from its one-line text.

    An encoded word may decode to anything, line breaks included; the email package then refuses the
    whole address header. Decoding it loosely instead would let ``=?utf-8?q?Eve=0A<ceo@acme.com>?=
    <eve@evil.example>`` read as from ceo@acme.com, so the text is re-encoded and parsed properly."""
    pieces: list[str] = []
    previous_encoded = False
    for chunk, charset in decode_header(raw):
        if charset is None:
            pieces.append(chunk.decode("ascii", "replace") if isinstance(chunk, bytes) else chunk)
            previous_encoded = False
            continue
        text = chunk.decode(charset, "replace") if isinstance(chunk, bytes) else chunk
        encoded = Header(single_line(text), "utf-8").encode()
        pieces.append((" " if previous_encoded else "") + encoded)
        previous_encoded = True
    return "".join(pieces)


def header_value(name: str, raw: str) -> str:
    """One header's value as one line of text: encoded words decoded, folding and any line break they
    decoded to made spaces (a header is one logical line; DESIGN.md §7)."""
    for attempt in (lambda: raw, lambda: _without_decoded_line_breaks(raw)):
        try:
            return single_line(str(default_policy.header_fetch_parse(name, attempt())))
        except Exception:  # noqa: BLE001 — the email package raises many kinds on odd headers
            continue
    return single_line(raw)  # undecoded: its encoded words stay opaque, so they cannot make an address


def header_items(message) -> list[tuple[str, str]]:
    """A parsed message's headers, in order, as ``(name, one-line text)``."""
    return [(str(name), header_value(str(name), str(raw))) for name, raw in message.raw_items()]


def email_from_message(message: AnymailInboundMessage, **kwargs) -> InboundEmail:
    """:func:`_read_message`, with any failure of the email package on odd headers made a 400."""
    try:
        return _read_message(message, **kwargs)
    except InboundError:
        raise
    except Exception as exc:  # noqa: BLE001 — the email package raises many kinds on malformed headers
        raise InboundError(
            "The message headers could not be parsed.", code="malformed_headers", fields={"headers": str(exc)[:200]}
        ) from exc


def construct_message(**kwargs) -> AnymailInboundMessage:
    try:
        return AnymailInboundMessage.construct(**kwargs)
    except Exception as exc:  # noqa: BLE001 — e.g. "address parts cannot contain CR or LF"
        raise InboundError(
            "The message headers could not be parsed.", code="malformed_headers", fields={"headers": str(exc)[:200]}
        ) from exc


def _read_message(
    message: AnymailInboundMessage,
    *,
    provider: str,
    headers: list[tuple[str, str]] | None = None,
    from_field: str = "from",
    fallback_from: str = "",
) -> InboundEmail:
    headers = headers if headers is not None else header_items(message)
    h = normalise_headers(headers)
    from_value = h.get("from") or message.get("From") or fallback_from
    from_email, from_name = _address(from_value, from_field)
    try:
        text = message.text or ""
        html = message.html or ""
    except (LookupError, UnicodeError, AssertionError) as exc:
        raise InboundError(
            "The message body could not be decoded.", code="undecodable_body", fields={"text": str(exc)[:200]}
        ) from exc
    references = parse_message_ids(h.get("references"))
    return InboundEmail(
        provider=provider,
        from_email=from_email,
        from_name=from_name,
        to=[addr.lower() for _, addr in getaddresses([h.get("to", "")]) if addr],
        subject=h.get("subject", "") or (message.subject or ""),
        text=text,
        html=html,
        message_id=(parse_message_ids(h.get("message-id")) or [""])[0],
        in_reply_to=(parse_message_ids(h.get("in-reply-to")) or [""])[0],
        references=references,
        date=_parse_date(h.get("date")),
        headers=headers,
        message=message,
    )


def parse_raw_mime(raw: str | bytes, *, provider: str = "mime") -> InboundEmail:
    """An e-mail from its raw RFC 5322 text (SendGrid "send raw", Mailgun ``body-mime``, ``message/rfc822``)."""
    try:
        message = (
            AnymailInboundMessage.parse_raw_mime_bytes(raw)
            if isinstance(raw, bytes)
            else AnymailInboundMessage.parse_raw_mime(raw)
        )
    except Exception as exc:  # the email package raises many kinds on garbage
        raise InboundError(
            "The raw message could not be parsed.", code="malformed_mime", fields={"email": str(exc)[:200]}
        ) from exc
    if not message.keys():
        raise InboundError(
            "The raw message has no headers.", code="malformed_mime", fields={"email": "Expected RFC 5322 headers."}
        )
    return email_from_message(message, provider=provider, from_field="email")


def external_id_for(email: InboundEmail) -> str:
    """The dedupe key: the Message-ID, else the provider's event id, else a hash of the content."""
    if email.message_id:
        key = email.message_id
    elif email.event_id:
        key = f"{email.provider}:{email.event_id}"
    else:
        digest = hashlib.sha256(
            "\n".join(
                [email.from_email, email.subject, email.date.isoformat() if email.date else "", email.text]
            ).encode()
        ).hexdigest()
        key = f"sha256:{digest}"
    return key if len(key) <= 200 else f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def occurred_at_of(email: InboundEmail, fallback: datetime | None) -> datetime:
    now = clock.now()
    when = email.date or fallback or now
    return now if when > now + timedelta(days=1) else when


def _headers_summary(email: InboundEmail) -> dict[str, str]:
    h = email.header_map
    return {name: single_line(h[name], max_length=500) for name in _SUMMARY_HEADERS if name in h}


def base_properties(email: InboundEmail) -> dict:
    """What every inbound signal keeps of the e-mail. Names and the subject are made one line here:
    an RFC 2047 encoded word decodes to any character, line breaks included, and a stored subject
    becomes the ``Re:`` subject of our answer."""
    properties = {
        "subject": single_line(email.subject, max_length=500),
        "from": email.from_email,
        "from_name": single_line(email.from_name, max_length=200),
        "to": [single_line(address, max_length=254) for address in email.to[:20]],
        "provider": email.provider,
        "headers": _headers_summary(email),
    }
    if email.envelope_from:
        properties["envelope_from"] = single_line(email.envelope_from, max_length=254)
    if email.event_id:
        properties["provider_event_id"] = email.event_id
    return properties
