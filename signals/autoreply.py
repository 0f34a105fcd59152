"""Is this e-mail written by a machine? Auto-replies (RFC 3834) and delivery-status notifications.

No maintained library does this well, so it is a short list of rules (LIBRARIES.md): the headers
that mail systems set on automatic mail first, then subject prefixes in several languages, then
out-of-office wording in the body. An auto-reply is not a human reply: it must never count as
engagement, and it must never trip an unsubscribe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import Message

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | Message | None


@dataclass(frozen=True)
class AutoReplyVerdict:
    is_auto: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.is_auto


def normalise_headers(headers: HeaderInput) -> dict[str, str]:
    """Lower-case header names → value (the first occurrence wins, as mail clients read them)."""
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, (Mapping, Message)) else headers
    out: dict[str, str] = {}
    for name, value in items:
        out.setdefault(str(name).strip().lower(), str(value if value is not None else "").strip())
    return out


_AUTO_SUBJECT = re.compile(
    r"^\s*(?:\[?auto(?:matic)?[ -]?(?:reply|response|antwort)\]?|auto:|automatic reply|autoreply|"
    r"out of (?:the )?office|ooo\b|away from (?:the )?office|on vacation|on holiday|abwesenheitsnotiz|"
    r"automatische antwort|abwesend|réponse automatique|reponse automatique|absence|absent du bureau|"
    r"respuesta automática|respuesta automatica|fuera de la oficina|fuera de oficina|"
    r"risposta automatica|fuori sede|fuori ufficio|automatisch antwoord|afwezig|resposta automática|"
    r"autosvar|automatisk svar|frånvaro|fravær|poza biurem|automatyczna odpowiedź|автоответ|"
    r"自動応答|自动回复|自動返信)",
    re.IGNORECASE,
)

# Out-of-office wording needs an absence *and* the boilerplate around it: a person who writes "I'll be
# on vacation until the 15th, let's talk after" is a human saying "not now", not an auto-reply.
_ABSENCE = re.compile(
    r"\b(?:out of (?:the )?office|away from (?:the |my )?(?:office|desk)|on (?:annual |parental |maternity |"
    r"paternity |sick |business )?(?:leave|vacation|holiday|holidays)|travell?ing|currently away|absent|"
    r"nicht im büro|abwesend|im urlaub|absente?|en congés?|fuera de la oficina|de vacaciones|ausente|"
    r"fuori (?:ufficio|sede)|assente|in ferie|afwezig|met vakantie|ledig|på semester|borta)\b",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"\b(?:limited (?:access|connectivity)|no access to (?:my )?e-?mail|urgent|in my absence|"
    r"(?:respond|reply|get back)[^.]{0,40}(?:upon|on|after|when)[^.]{0,10}(?:my )?return|"
    r"(?:will|I'll) (?:respond|reply|answer)[^.]{0,30}as soon as|return(?:ing)? (?:to the office )?on|"
    r"back (?:in the office )?on|dringend|in dringenden|vertretung|urgence|en mon absence|"
    r"de retour le|urgente|en mi ausencia|regreso el|in caso di urgenza|dringende|tijdens mijn afwezigheid|"
    r"brådskande)",
    re.IGNORECASE,
)
_AUTO_BODY_STRONG = re.compile(
    r"\bthis is an automatic(?:ally generated)? (?:reply|response|message|notification)"
    r"|\bauto-?(?:generated|matic) (?:reply|response|message)"
    r"|\bwe have received your (?:e-?mail|message|request)[^.]{0,40}(?:ticket|will (?:respond|get back|reply))"
    r"|\bthis (?:mailbox|inbox|e-?mail address) is (?:no longer|not) (?:monitored|active|in use)"
    r"|\bdo not reply to this (?:e-?mail|message)"
    r"|\bdies ist eine automatische|\bceci est une réponse automatique|\besta es una respuesta automática"
    r"|\bquesta è una risposta automatica|\bdit is een automatisch",
    re.IGNORECASE,
)


def _looks_out_of_office(text: str) -> bool:
    return bool(_AUTO_BODY_STRONG.search(text) or (_ABSENCE.search(text) and _BOILERPLATE.search(text)))


_MACHINE_SENDER = re.compile(
    r"(?:^|<|\s)(?:no-?reply|do-?not-?reply|donotreply|noreply-[\w.-]+|auto-?(?:reply|responder|confirm)|mailer-daemon)@",
    re.IGNORECASE,
)
_BOUNCE_FROM = re.compile(r"^(?:.*<)?\s*(?:mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver(?:ed|able)(?: mail)?|delivery status notification \((?:failure|delay)\)|"
    r"mail delivery (?:failed|failure|subsystem)|returned mail|delivery failure|failure notice|"
    r"unzustellbar|non remis|no se puede entregar|message not delivered)",
    re.IGNORECASE,
)


def detect_auto_reply(*, headers: HeaderInput = None, subject: str = "", text: str = "") -> AutoReplyVerdict:
    """Decide whether a message was sent by a machine, with the first rule that said so."""
    h = normalise_headers(headers)
    auto_submitted = h.get("auto-submitted", "").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return AutoReplyVerdict(True, f"Auto-Submitted: {auto_submitted}")
    for name in (
        "x-autoreply",
        "x-autorespond",
        "x-autoresponder",
        "x-autogenerated",
        "x-ms-exchange-generated-message-source",
    ):
        if h.get(name):
            return AutoReplyVerdict(True, f"{name} header")
    suppress = h.get("x-auto-response-suppress", "").lower()
    if suppress and any(token in suppress for token in ("all", "oof", "autoreply")):
        return AutoReplyVerdict(True, f"X-Auto-Response-Suppress: {suppress}")
    precedence = h.get("precedence", "").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply", "auto-reply"}:
        return AutoReplyVerdict(True, f"Precedence: {precedence}")
    if h.get("list-id"):
        return AutoReplyVerdict(True, "List-Id header (mailing-list mail)")
    if "return-path" in h and h["return-path"].replace(" ", "") in {"<>", ""}:
        return AutoReplyVerdict(True, "empty Return-Path")
    if "multipart/report" in h.get("content-type", "").lower():
        return AutoReplyVerdict(True, "multipart/report")
    if _MACHINE_SENDER.search(h.get("from", "")):
        return AutoReplyVerdict(True, "machine sender address")
    subject = subject or h.get("subject", "")
    if _AUTO_SUBJECT.search(subject or ""):
        return AutoReplyVerdict(True, "auto-reply subject")
    if _looks_out_of_office(text or ""):
        return AutoReplyVerdict(True, "out-of-office wording")
    return AutoReplyVerdict(False)


def is_delivery_status_notification(*, headers: HeaderInput = None, subject: str = "", from_address: str = "") -> bool:
    """A bounce: ``multipart/report; report-type=delivery-status`` or the mailer daemon's typical mail."""
    h = normalise_headers(headers)
    content_type = h.get("content-type", "").lower().replace(" ", "")
    if "multipart/report" in content_type and "report-type=delivery-status" in content_type:
        return True
    sender = from_address or h.get("from", "")
    subject = subject or h.get("subject", "")
    return bool(_BOUNCE_FROM.search(sender) and (_BOUNCE_SUBJECT.search(subject) or not subject)) or bool(
        _BOUNCE_SUBJECT.search(subject) and h.get("auto-submitted", "").lower().startswith("auto")
    )
