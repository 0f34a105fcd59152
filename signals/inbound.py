"""Inbound e-mail: replies (and bounces) to our outreach, from SendGrid Inbound Parse or Mailgun routes.

``POST /api/v1/inbound/email`` (DESIGN.md §4). The view authenticates (HTTP Basic with an e-mail
source's write key; Mailgun's HMAC signature), parses the provider's fields into one
:class:`InboundEmail` (django-anymail's ``AnymailInboundMessage`` does the MIME work), and calls
:func:`receive_inbound_email`, which

1. threads the e-mail to the outreach it answers (In-Reply-To / References → the ``email_sent``
   signal with that Message-ID; else the sender's latest outreach; else the sender's company),
2. strips quoted history and signatures (mail-parser-reply, several languages),
3. recognises bounces (delivery-status notifications) and auto-replies (RFC 3834 and friends),
4. classifies a human reply's intent and sentiment (``signals.intent.classify_reply``),
5. checks who sent it (``signals.mailauth``: the provider's SPF/DKIM verdicts aligned with the From
   domain, or an answer from the very address our outreach went to, threaded by Message-ID),
6. stores one signal with ``record_signal`` (dedupe on the Message-ID; analysis announced on commit),
7. and acts on what the person said, only when the sender is verified: an unsubscribe marks them
   do-not-contact, a referral adds the named colleague when their address is at the account's domain.
   An unverified e-mail is stored all the same, with its intent; what it would have done is kept on
   the signal as ``effect_withheld`` for a rep to see, and a referral elsewhere stays a suggestion.

Outside text that may reach a draft's subject or a line of its own (the Subject, the From name, a
referral's name) is made one line (``salesai.text.single_line``) before it is stored.

The HTTP answer is sent only after the transaction committed, so an accepted e-mail is never lost.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import Header, decode_header
from email.parser import HeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from anymail.inbound import AnymailInboundMessage
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from mailparser_reply import EmailReplyParser
from rest_framework import serializers as drf_serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from accounts.models import Account, Contact
from accounts.selectors import contact_by_email
from accounts.services import contact_mark_do_not_contact
from audit.services import audit_record
from salesai import clock
from salesai.api_errors import DomainError, error_response
from salesai.text import single_line
from signals.auth import hash_write_key, source_for_write_key
from signals.autoreply import is_delivery_status_notification, normalise_headers
from signals.intent import ReplyClassification, classify_reply
from signals.mailauth import (
    SenderVerdict,
    authentication_results_verdict,
    mailgun_verdict,
    sendgrid_verdict,
)
from signals.models import QuarantinedPayload, Signal, Source
from signals.services import record_signal
from signals.throttling import limit_for, seconds_until_allowed

logger = logging.getLogger(__name__)

ENDPOINT = "api/v1/inbound/email"
MAILGUN_SOURCE_NAME = "mailgun-inbound"
SIGNATURE_TOLERANCE = timedelta(minutes=5)
MAX_TEXT_CHARS = 20_000
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs"]
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


# --- the parsed e-mail ---------------------------------------------------------------------------------


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


def _from_message(message: AnymailInboundMessage, **kwargs) -> InboundEmail:
    """:func:`_read_message`, with any failure of the email package on odd headers made a 400."""
    try:
        return _read_message(message, **kwargs)
    except InboundError:
        raise
    except Exception as exc:  # noqa: BLE001 — the email package raises many kinds on malformed headers
        raise InboundError(
            "The message headers could not be parsed.", code="malformed_headers", fields={"headers": str(exc)[:200]}
        ) from exc


def _construct(**kwargs) -> AnymailInboundMessage:
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
    return _from_message(message, provider=provider, from_field="email")


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
    from email.parser import BytesParser

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
        message = _construct(
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
        email = _from_message(message, provider="sendgrid", headers=headers)
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
        email = _from_message(message, provider="mailgun", headers=headers, fallback_from=post.get("sender", ""))
    email.envelope_from = post.get("sender", "").lower()
    email.event_id = post.get("token", "")
    email.provider_stripped_text = post.get("stripped-text", "")
    return email


# --- text: HTML to text, quoted history and signatures away ---------------------------------------------


class _HTMLText(HTMLParser):
    """Visible text of an HTML body, without quoted history (blockquote, Gmail/Outlook quote blocks)."""

    _SKIP = {"script", "style", "head", "title", "blockquote"}
    _QUOTE_MARKERS = ("gmail_quote", "yahoo_quoted", "divrplyfwdmsg", "moz-cite-prefix", "protonmail_quote")
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.stopped = False

    def handle_starttag(self, tag, attrs):
        if self.stopped:
            return
        marker = " ".join(str(v).lower() for k, v in attrs if k in {"class", "id"} and v)
        skip = tag in self._SKIP or any(m in marker for m in self._QUOTE_MARKERS)
        if tag in {"br", "hr", "img", "meta", "link", "input"}:
            if tag == "br":
                self.parts.append("\n")
            if tag == "hr" and not self.skip_depth:
                self.stopped = True  # Outlook puts the quoted history under a rule
            return
        self.stack.append((tag, skip))
        if skip:
            self.skip_depth += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, skipped = self.stack.pop()
            if skipped:
                self.skip_depth -= 1
            if open_tag == tag:
                break
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip_depth and not self.stopped:
            self.parts.append(data)


_HTML_CHUNK = 64_000


def html_to_text(html: str, *, limit: int | None = None) -> str:
    """The visible text of an HTML body. With ``limit``, reading stops once that much text was seen
    (a multi-megabyte body costs no more than its first screens); a huge invisible head (styles,
    quoted blocks) is still read through, so the reply behind it is not lost."""
    parser = _HTMLText()
    html = html or ""
    try:
        for start in range(0, len(html), _HTML_CHUNK):
            parser.feed(html[start : start + _HTML_CHUNK])
            if parser.stopped or (limit is not None and sum(map(len, parser.parts)) >= limit):
                break
        parser.close()
    except Exception:  # noqa: BLE001 — malformed HTML still yields what was read
        logger.debug("html_to_text: malformed HTML")
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t\xa0]+", " ", text)).strip()


def strip_reply(text: str) -> str:
    """The newest reply of a plain-text body: quoted history, reply headers and signature removed.

    mail-parser-reply recognises the "On … wrote:" / "Am … schrieb:" / Outlook header blocks of
    several languages and ``>`` quotes; its first fragment without the signature is the reply."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        return ""
    try:
        message = EmailReplyParser(languages=REPLY_LANGUAGES).read(text)
    except Exception:  # noqa: BLE001 — a parser failure must not lose the e-mail
        logger.warning("mail-parser-reply failed; keeping the full text", exc_info=True)
        return text
    replies = [r for r in message.replies if (r.body or "").strip()]
    if not replies:
        return (message.latest_reply or "").strip()
    body = replies[0].body.strip()
    if _all_quoted(body):
        return ""
    return body


def _all_quoted(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(line.lstrip().startswith(">") for line in lines)


def reply_text_of(email: InboundEmail) -> str:
    """The person's own words: the de-quoted plain text, else the de-quoted HTML, else the provider's.

    The body is cut to ``MAX_TEXT_CHARS`` *before* quotes and signatures are looked for: the newest
    reply is at the top, and the parser's cost grows with everything below it."""
    plain = email.text.strip()[:MAX_TEXT_CHARS]
    if plain:
        text = strip_reply(plain)
    else:
        text = strip_reply(html_to_text(email.html, limit=MAX_TEXT_CHARS)[:MAX_TEXT_CHARS])
    if not text and email.provider_stripped_text:
        text = email.provider_stripped_text.strip()
    return text[:MAX_TEXT_CHARS]


# --- threading ----------------------------------------------------------------------------------------------


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
    from signals.identity import account_for_domain, registrable_domain

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


# --- bounces ------------------------------------------------------------------------------------------------

_DSN_FIELD = re.compile(r"^(Final-Recipient|Original-Recipient|Action|Status|Diagnostic-Code)\s*:\s*(.+)$", re.I | re.M)


def _bounce_details(email: InboundEmail) -> dict:
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


# --- storing ------------------------------------------------------------------------------------------------


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


def _occurred_at(email: InboundEmail, fallback: datetime | None) -> datetime:
    now = clock.now()
    when = email.date or fallback or now
    return now if when > now + timedelta(days=1) else when


def _headers_summary(email: InboundEmail) -> dict[str, str]:
    h = email.header_map
    return {name: single_line(h[name], max_length=500) for name in _SUMMARY_HEADERS if name in h}


def _base_properties(email: InboundEmail) -> dict:
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


# --- who sent it ---------------------------------------------------------------------------------------------


def provider_verdict(email: InboundEmail) -> SenderVerdict:
    """What the receiving provider says about the From address (``signals.mailauth``): SendGrid's
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


# --- what a reply may change --------------------------------------------------------------------------------

# Intents by which a person takes themselves out of our outreach (analysis then leaves them alone).
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


@transaction.atomic
def receive_inbound_email(
    *, source: Source, email: InboundEmail, received_at: datetime | None = None
) -> tuple[Signal, bool]:
    """Store one inbound e-mail as an ``email_reply`` (or ``email_bounced``) signal and act on it.

    Returns ``(signal, created)``; a resend of the same Message-ID returns the stored signal and does
    nothing else. ``received_at`` is the provider's delivery time, used when the e-mail has no Date.
    The signal says whether its sender is verified (``sender_verified``, ``verification``) and what it
    asked for that was not done (``effect_withheld``)."""
    email = email.without_nul()
    occurred_at = _occurred_at(email, received_at)
    if is_delivery_status_notification(headers=email.headers, subject=email.subject, from_address=email.from_email):
        return _record_bounce(source=source, email=email, occurred_at=occurred_at)

    thread = thread_email(in_reply_to=email.in_reply_to, references=email.references, sender_email=email.from_email)
    text = reply_text_of(email)
    result = classify_reply(
        text, subject=email.subject, headers=email.headers, received_at=occurred_at, sender_email=email.from_email
    )
    verdict = sender_verdict(email, thread)
    effects = plan_reply_effects(result=result, verdict=verdict, thread=thread, sender_email=email.from_email)
    properties = (
        _base_properties(email)
        | _classification_properties(result, text=text, thread=thread, effects=effects)
        | verdict.as_properties()
        | effects.as_properties()
    )
    signal, created = record_signal(
        source=source,
        kind=Signal.Kind.EMAIL_REPLY,
        external_id=external_id_for(email),
        occurred_at=occurred_at,
        account=thread.account,
        contact=thread.contact,
        properties=properties,
        message_id=email.message_id[:500],
        in_reply_to=thread.outreach,
        intent=result.intent,
        intent_confidence=round(result.confidence, 4) if result.intent else None,
        sentiment=result.sentiment,
        is_auto_reply=result.is_auto_reply,
    )
    if created:
        _apply_reply_effects(signal=signal, result=result, effects=effects, occurred_at=occurred_at)
        if effects.withheld:
            logger.info(
                "inbound e-mail stored, its effect withheld",
                extra={"signal_id": signal.pk, "intent": result.intent, "sender_verified": verdict.verified},
            )
    return signal, created


def _classification_properties(
    result: ReplyClassification, *, text: str, thread: Thread, effects: ReplyEffects
) -> dict:
    properties: dict = {
        "text": text,
        "threaded_by": thread.threaded_by,
        "intent_method": result.method,
        "intent_reason": result.reason,
    }
    if result.probabilities:
        properties["probabilities"] = result.probabilities
    if result.is_auto_reply:
        properties["auto_reply_reason"] = result.reason
    if result.check_in_at:
        properties["check_in_at"] = result.check_in_at.isoformat()
        properties["check_in_phrase"] = single_line(result.check_in_phrase, max_length=200)
    if result.referral:
        properties["referral"] = result.referral.as_dict()
        if effects.referral_not_added:
            properties["referral"]["not_added"] = effects.referral_not_added
    return properties


def _apply_reply_effects(
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


def _record_bounce(*, source: Source, email: InboundEmail, occurred_at: datetime) -> tuple[Signal, bool]:
    """A bounce stops outreach to its recipient only when it names our own e-mail by Message-ID: any
    server can send a well-formed report (even DKIM-signed for its own domain) naming any address."""
    details = _bounce_details(email)
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
        _base_properties(email)
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


# --- django-anymail's own webhook views, delegating to the same service ----------------------------------


def handle_anymail_inbound(sender, event, esp_name: str, **kwargs) -> Signal | None:
    """Receiver for ``anymail.signals.inbound`` (anymail's ``/anymail/<esp>/inbound/`` views, which
    check the ESP's signature and ``ANYMAIL["WEBHOOK_SECRET"]``): stores the message exactly like
    ``POST /api/v1/inbound/email`` does, under the e-mail source ``anymail-<esp>``."""
    message = getattr(event, "message", None)
    if message is None:
        return None
    name = f"anymail-{esp_name.lower()}"[:100]
    source, _ = Source.objects.get_or_create(
        name=name,
        defaults={"kind": Source.Kind.EMAIL, "write_key_hash": _unusable_write_key_hash()},
    )
    try:
        email = _from_message(message, provider=esp_name.lower())
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


# --- authentication ---------------------------------------------------------------------------------------


def _basic_auth_user(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        raise InboundError(
            "Use HTTP Basic auth with the source's write key as user name.",
            code="not_authenticated",
            fields={"Authorization": "Expected 'Basic …'."},
            status_code=401,
        )
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InboundError(
            "Malformed HTTP Basic credentials.",
            code="not_authenticated",
            fields={"Authorization": "Not base64 of 'user:password'."},
            status_code=401,
        ) from exc
    return decoded.split(":", 1)[0].strip()


def _authenticate_basic(request: HttpRequest) -> Source | None:
    key = _basic_auth_user(request)
    if key is None:
        return None
    source = source_for_write_key(key)
    if source is None:
        raise InboundError(
            "Unknown or inactive write key.",
            code="invalid_write_key",
            fields={"Authorization": "The user name must be an active source's write key."},
            status_code=401,
        )
    if source.kind != Source.Kind.EMAIL:
        raise InboundError(
            f"The source '{source.name}' is not an inbound e-mail source.",
            code="wrong_source_kind",
            fields={"Authorization": "Use the write key of a source of kind 'email'."},
            status_code=403,
        )
    return source


def mailgun_signing_key() -> str:
    return (getattr(settings, "ANYMAIL", {}) or {}).get("MAILGUN_WEBHOOK_SIGNING_KEY") or ""


def verify_mailgun_signature(*, timestamp: str, token: str, signature: str, signing_key: str) -> bool:
    expected = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def _check_mailgun(post) -> datetime:
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


def _check_replay(*, source: Source, token: str, external_id: str) -> Signal | None:
    """A Mailgun token is used once: a retry of the stored delivery is answered idempotently, the same
    token on a different message is a replay."""
    if not token:
        return None
    earlier = (
        Signal.objects.filter(
            source=source,
            properties__provider_event_id=token,
            received_at__gte=clock.now() - 2 * SIGNATURE_TOLERANCE,
        )
        .only("pk", "external_id")
        .first()
    )
    if earlier is None:
        return None
    if earlier.external_id != external_id:
        raise InboundError(
            "This Mailgun token was already used for another message.",
            code="replayed",
            fields={"token": "Each delivery has its own token."},
            status_code=409,
        )
    return earlier


def _unusable_write_key_hash() -> str:
    """The hash of a random key nobody is ever shown: the source authenticates by signature only."""
    return hash_write_key(secrets.token_urlsafe(32))


def mailgun_source() -> Source:
    """The e-mail source Mailgun deliveries are stored under when they authenticate by signature only."""
    source, _ = Source.objects.get_or_create(
        name=MAILGUN_SOURCE_NAME,
        defaults={
            "kind": Source.Kind.EMAIL,
            "write_key_hash": _unusable_write_key_hash(),
            "write_key_prefix": "",
        },
    )
    return source


# --- the view -----------------------------------------------------------------------------------------------

_MAILGUN_FIELDS = ("body-plain", "body-html", "body-mime", "message-headers", "stripped-text", "signature", "token")
_SENDGRID_FIELDS = ("headers", "email", "envelope", "text", "html", "charsets")


def _detect_provider(request: HttpRequest) -> str:
    content_type = request.content_type or ""
    if content_type in {"message/rfc822", "text/plain"} and request.body:
        return "mime"
    if content_type not in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        raise InboundError(
            "Send the e-mail as multipart/form-data (SendGrid, Mailgun) or message/rfc822.",
            code="unsupported_media_type",
            fields={"Content-Type": f"'{content_type or 'none'}' is not accepted."},
            status_code=415,
        )
    post = request.POST
    if any(name in post for name in _MAILGUN_FIELDS):
        return "mailgun"
    if any(name in post for name in _SENDGRID_FIELDS):
        return "sendgrid"
    raise InboundError(
        "Unrecognised inbound e-mail payload.",
        code="unrecognised_payload",
        fields={"body": "Expected SendGrid Inbound Parse fields (headers, from, text …) or Mailgun route fields."},
    )


def _not_authenticated() -> InboundError:
    return InboundError(
        "Authenticate with HTTP Basic auth: the e-mail source's write key as user name.",
        code="not_authenticated",
        fields={"Authorization": "Required."},
        status_code=401,
    )


def _small_enough_to_keep(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return length > 0 and (limit is None or length <= limit)


def _quarantine(request: HttpRequest, *, source: Source | None, error: InboundError) -> None:
    try:
        raw = request.body[:200_000].decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 — the body may have been consumed by the multipart parser
        raw = json.dumps({k: v[:10_000] for k, v in request.POST.items()})[:200_000]
    QuarantinedPayload.objects.create(
        source=source, endpoint=ENDPOINT, error_code=error.code, errors=no_nul(error.fields), payload=no_nul(raw)
    )


def _answer(signal: Signal, created: bool) -> JsonResponse:
    body = {
        "id": signal.pk,
        "kind": signal.kind,
        "duplicate": not created,
        "intent": signal.intent,
        "intent_confidence": signal.intent_confidence,
        "sentiment": signal.sentiment,
        "is_auto_reply": signal.is_auto_reply,
        "in_reply_to": signal.in_reply_to_id,
        "account": signal.account_id,
        "contact": signal.contact_id,
        "sender_verified": bool((signal.properties or {}).get("sender_verified")),
    }
    return JsonResponse(body, status=201 if created else 200)


@csrf_exempt
def inbound_email_view(request: HttpRequest) -> JsonResponse:
    """``POST /api/v1/inbound/email``: a thin doorway to :func:`receive_inbound_email`."""
    if request.method != "POST":
        return error_response(405, "method_not_allowed", "Use POST.", Allow="POST")
    source: Source | None = None
    authenticated = False
    raw_body = None
    try:
        source = _authenticate_basic(request)
        if request.content_type == "multipart/form-data" and _small_enough_to_keep(request):
            raw_body = request.body  # kept before the form is parsed, for SendGrid's non-UTF-8 bodies
        authenticated = source is not None
        try:
            provider = _detect_provider(request)
        except InboundError:
            if not authenticated:  # say "who are you?" before "what is this?"
                raise _not_authenticated() from None
            raise
        sent_at = None
        if provider == "mailgun" and (mailgun_signing_key() or not authenticated):
            sent_at = _check_mailgun(request.POST)
            if source is None:
                source = mailgun_source()
            authenticated = True
        if not authenticated:
            raise _not_authenticated()
        wait = seconds_until_allowed(source)
        if wait is not None:
            return error_response(
                429,
                "throttled",
                f"Rate limit of {limit_for(source)} requests per minute exceeded.",
                Retry_After=str(wait),
            )
        if provider == "mime":
            email = parse_raw_mime(request.body)
        elif provider == "mailgun":
            email = parse_mailgun(request.POST)
        else:
            email = parse_sendgrid(request.POST, raw_body=raw_body, content_type=request.META.get("CONTENT_TYPE", ""))
        email = email.without_nul()
        email.signed = sent_at is not None  # Mailgun's signature was checked above
        earlier = _check_replay(source=source, token=email.event_id, external_id=external_id_for(email))
        if earlier is not None:
            return _answer(Signal.objects.get(pk=earlier.pk), False)
        signal, created = receive_inbound_email(source=source, email=email, received_at=sent_at)
    except InboundError as error:
        if authenticated and error.status_code in {400, 415}:  # refused for its content: keep it
            _quarantine(request, source=source, error=error)
        headers = {"WWW_Authenticate": 'Basic realm="salesai"'} if error.status_code == 401 else {}
        return error_response(error.status_code, error.code, error.message, error.fields, **headers)
    except RequestDataTooBig:
        return error_response(413, "payload_too_large", "The e-mail is larger than this server accepts.")
    except TooManyFieldsSent:
        return error_response(400, "too_many_fields", "The form has too many fields.")
    except MultiPartParserError as exc:
        return error_response(
            400, "malformed_body", "The multipart body could not be parsed.", {"body": str(exc)[:200]}
        )
    return _answer(signal, created)


_FORM_DOC = (
    "Inbound e-mail replies to our outreach. **SendGrid Inbound Parse**: point the Parse URL at "
    "`https://<write key>:@<host>/api/v1/inbound/email` (HTTP Basic auth, the e-mail source's write key "
    "as user name); default fields (`headers`, `from`, `to`, `subject`, `text`, `html`, `envelope`) or "
    '"send raw" (`email`). **Mailgun routes** (`forward()`): fields `message-headers`, `body-plain`, '
    "`body-html`, `stripped-text`, `sender`, or `body-mime`; signed with `timestamp`, `token`, `signature` "
    "(HMAC-SHA256 with `MAILGUN_WEBHOOK_SIGNING_KEY`; older than 5 minutes or a reused token is refused). "
    "A raw `message/rfc822` body is accepted with Basic auth too. The answer comes after the signal is "
    "stored: 201 new, 200 already stored (same Message-ID). Every e-mail is stored; an unsubscribe, "
    '"wrong person" or referral changes who is contacted only when the sender is verified: SendGrid\'s '
    "`SPF`/`dkim` fields, the `X-Mailgun-Spf`/`X-Mailgun-Dkim-Check-Result` headers of a *signed* Mailgun "
    "post, or an `Authentication-Results` header of a server named in `INBOUND_EMAIL_AUTHSERV_IDS`, each "
    "for a domain aligned with the From address; or the e-mail answers (by Message-ID) one we sent to "
    "that address. A referral outside the account's domain is kept as a suggestion, never a contact."
)


class InboundEmailView(APIView):
    """DRF shell around :func:`inbound_email_view` so the endpoint is in the OpenAPI schema."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="inbound_email",
        tags=["ingestion: inbound e-mail"],
        summary="Receive an inbound e-mail reply (SendGrid Inbound Parse or Mailgun route)",
        description=_FORM_DOC,
        request={
            "multipart/form-data": inline_serializer(
                "InboundEmailForm",
                {
                    "from": drf_serializers.CharField(help_text="SendGrid: 'Jane Doe <jane@acme.com>'"),
                    "to": drf_serializers.CharField(required=False),
                    "subject": drf_serializers.CharField(required=False),
                    "text": drf_serializers.CharField(required=False, help_text="Plain body (SendGrid)"),
                    "html": drf_serializers.CharField(required=False, help_text="HTML body (SendGrid)"),
                    "headers": drf_serializers.CharField(required=False, help_text="Raw header block (SendGrid)"),
                    "envelope": drf_serializers.CharField(required=False, help_text='JSON {"from", "to"}'),
                    "SPF": drf_serializers.CharField(required=False, help_text="SendGrid's SPF result, e.g. 'pass'"),
                    "dkim": drf_serializers.CharField(
                        required=False, help_text="SendGrid's DKIM results, e.g. '{@acme.com : pass}'"
                    ),
                    "email": drf_serializers.CharField(required=False, help_text="Raw MIME (SendGrid send raw)"),
                    "message-headers": drf_serializers.CharField(required=False, help_text="JSON pairs (Mailgun)"),
                    "body-plain": drf_serializers.CharField(required=False),
                    "body-html": drf_serializers.CharField(required=False),
                    "body-mime": drf_serializers.CharField(required=False),
                    "stripped-text": drf_serializers.CharField(required=False),
                    "timestamp": drf_serializers.CharField(required=False),
                    "token": drf_serializers.CharField(required=False),
                    "signature": drf_serializers.CharField(required=False),
                },
            )
        },
        responses={
            201: inline_serializer(
                "InboundEmailStored",
                {
                    "id": drf_serializers.IntegerField(),
                    "kind": drf_serializers.ChoiceField(choices=["email_reply", "email_bounced"]),
                    "duplicate": drf_serializers.BooleanField(),
                    "intent": drf_serializers.ChoiceField(choices=[*Signal.Intent.values, ""]),
                    "intent_confidence": drf_serializers.FloatField(allow_null=True),
                    "sentiment": drf_serializers.FloatField(allow_null=True),
                    "is_auto_reply": drf_serializers.BooleanField(),
                    "in_reply_to": drf_serializers.IntegerField(allow_null=True),
                    "account": drf_serializers.IntegerField(allow_null=True),
                    "contact": drf_serializers.IntegerField(allow_null=True),
                    "sender_verified": drf_serializers.BooleanField(
                        help_text="Whether the From address is vouched for (the provider's SPF/DKIM verdict "
                        "aligned with its domain, or an answer to our e-mail to that address). Only then "
                        "may an unsubscribe or a referral change who is contacted."
                    ),
                },
            ),
            200: OpenApiResponse(description="Already stored (same Message-ID or Mailgun retry); same body."),
            400: OpenApiResponse(description="Malformed payload (error shape names the field); quarantined."),
            401: OpenApiResponse(description="Missing/wrong write key, bad or stale Mailgun signature."),
            403: OpenApiResponse(description="The write key belongs to a source that is not kind 'email'."),
            409: OpenApiResponse(description="A Mailgun token reused for another message (replay)."),
            415: OpenApiResponse(description="Not form data nor message/rfc822."),
            429: OpenApiResponse(description="Over the source's rate limit; see Retry-After."),
        },
        auth=[{"writeKeyBasic": []}, {}],
    )
    def post(self, request, *args, **kwargs):
        return inbound_email_view(request._request)
