"""How the inbox says things: one row per recommendation, folded evidence, what an action left behind.

Pure functions over rows already loaded (no query here): the inbox view loads a page of
recommendations with their relations and evidence, then asks these for the words. Kept apart from
``views.py`` so the wording has one home and its tests need no request."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable

from recommendations.models import Evidence, Recommendation
from recommendations.playbooks.base import fmt_day, fmt_moment

#: Evidence kinds as nouns (singular, plural); anything else counts as a "fact".
NOUNS = {
    "page_view": ("visit", "visits"),
    "form_submitted": ("form", "forms"),
    "product_usage": ("usage event", "usage events"),
    "email_reply": ("reply", "replies"),
    "email_sent": ("e-mail sent", "e-mails sent"),
    "email_bounced": ("bounce", "bounces"),
    "meeting_booked": ("meeting", "meetings"),
    "crm_updated": ("CRM change", "CRM changes"),
    "contract": ("contract", "contracts"),
    "goal": ("goal", "goals"),
}
#: The prefix trust puts before each reason for a person's eyes: the heading already says it.
_REVIEW_PREFIXES = ("Needs review: ", "Needs review — ", "needs review: ")


def plural(count: int, kind: str) -> str:
    one, many = NOUNS.get(kind, ("fact", "facts"))
    return f"{count} {one if count == 1 else many}"


def evidence_summary(evidence: Iterable[Evidence], *, now: dt.datetime) -> str:
    """The evidence folded to one line: "11 visits by 2 people since Mon 16 Nov, last Fri 20 Nov 13:57 ·
    1 reply". People are the distinct contacts behind the signals (``person``, annotated by the
    caller; absent = unknown)."""
    items = list(evidence)
    if not items:
        return "No dated facts recorded."
    kinds = Counter(e.kind or e.fact_type for e in items)
    parts = []
    for kind, count in kinds.most_common():
        of_kind = [e for e in items if (e.kind or e.fact_type) == kind]
        text = plural(count, kind)
        people = {getattr(e, "person", None) for e in of_kind} - {None}
        if len(people) > 1:
            text += f" by {len(people)} people"
        dated = sorted(e.occurred_at for e in of_kind if e.occurred_at)
        if count > 1 and dated:
            text += f" since {fmt_day(dated[0])}, last {fmt_moment(dated[-1])}"
        elif dated:
            text += f" on {fmt_moment(dated[-1])}"
        parts.append(text)
    return " · ".join(parts)


def short_age(moment: dt.datetime | None, *, now: dt.datetime) -> str:
    """ "5 min", "3 h", "2 d": a row's age in the fewest characters."""
    if moment is None:
        return ""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def expires_line(rec: Recommendation, *, now: dt.datetime) -> str:
    """ "Expires Tue 1 Dec 09:00" (or "Expires in 40 min" when close); '' without an expiry."""
    if rec.expires_at is None:
        return ""
    left = rec.expires_at - now
    if left <= dt.timedelta(0):
        return "Expired"
    if left < dt.timedelta(hours=2):
        return f"Expires in {max(1, int(left.total_seconds() // 60))} min"
    return f"Expires {fmt_moment(rec.expires_at)}"


def why_line(rec: Recommendation) -> str:
    """The row's one-line why-now: the playbook's own, else the story's first sentence."""
    text = (rec.why_now or rec.reasoning or "").strip()
    first = text.split(". ")[0].rstrip(".")
    return first


def review_reasons(rec: Recommendation) -> list[str]:
    """Trust's reasons without the "Needs review:" each used to start with (the heading says it)."""
    decision = rec.trust_decision
    if decision is None:
        return []
    cleaned = []
    for reason in decision.reasons or []:
        for prefix in _REVIEW_PREFIXES:
            if reason.startswith(prefix):
                reason = reason[len(prefix) :]
                reason = reason[:1].upper() + reason[1:]
        if reason not in cleaned:
            cleaned.append(reason)
    return cleaned


def criteria(rec: Recommendation) -> list[dict]:
    """The lead finding's criteria, each with its label and state (met / not met / unknown)."""
    findings = rec.findings or []
    if not findings or not isinstance(findings[0], dict):
        return []
    return [
        {"label": c.get("label", ""), "state": c.get("state", "unknown")}
        for c in findings[0].get("criteria", [])
        if isinstance(c, dict)
    ]


def wait_text(rec: Recommendation, *, now: dt.datetime) -> str:
    """ "in 27 s" / "in 9 min" until a scheduled row goes out; "now" once due."""
    if not rec.scheduled_for or rec.scheduled_for <= now:
        return "now"
    seconds = math.ceil((rec.scheduled_for - now).total_seconds())
    return f"in {seconds} s" if seconds < 120 else f"in {seconds // 60} min"


def recipient_phrase(outgoing) -> str:
    """ " to Ines" (or " to the managers"), '' when no one."""
    names = " and ".join(outgoing.recipient_names) if outgoing is not None else ""
    return f" to {names}" if names else ""


def left_behind(rec: Recommendation, *, outgoing, now: dt.datetime) -> str:
    """What an action left, in one line: "Sending to Ines in 27 s", "Rejected: Wrong timing",
    "Snoozed until Tue 1 Dec". ``outgoing``: :func:`services.outgoing.outgoing_for` of the row."""
    to = recipient_phrase(outgoing)
    status = rec.status
    if status == Recommendation.Status.SCHEDULED:
        wait = wait_text(rec, now=now)
        return f"Sending{to} {wait}"
    if status == Recommendation.Status.EXECUTED:
        return f"Sent{to}"
    if status == Recommendation.Status.SNOOZED and rec.snoozed_until:
        return f"Snoozed until {fmt_day(rec.snoozed_until)}"
    label = rec.get_status_display()
    return f"{label}: {rec.closed_reason}" if rec.closed_reason else label


def contact_reason(rec: Recommendation) -> str:
    """Why this person gets the e-mail, in one line, from the evidence itself (whose signals they are)."""
    contact = rec.contact
    if rec.is_internal or contact is None:
        return ""
    evidence = [e for e in rec.evidence.all() if getattr(e, "person", None)]
    who = contact.display_name + (f" ({contact.title})" if contact.title else "")
    theirs = [e for e in evidence if e.person == contact.pk]
    others = {e.person for e in evidence} - {contact.pk}
    if theirs:
        latest = max((e.occurred_at for e in theirs if e.occurred_at), default=None)
        when = f", the latest {fmt_moment(latest)}" if latest else ""
        line = f"Why {who}: {len(theirs)} of the {len(evidence)} facts about people are theirs{when}."
        if others:
            line += f" {len(others)} other {'person' if len(others) == 1 else 'people'} also appear."
        return line
    if others:
        return f"Why {who}: the account's main contact; the activity came from {len(others)} other " + (
            "person." if len(others) == 1 else "people."
        )
    return f"Why {who}: the account's main contact; no one in the evidence is a known contact yet."


#: " on Thu 19 Nov 14:02" (or " on Thu 19 Nov") at the end of a statement: the list shows the date already.
_TRAILING_DATE = re.compile(r"\s+on (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}( \d{4})?( \d{2}:\d{2})?$")


def without_trailing_date(statement: str) -> str:
    """The statement without the date it ends with, for the dated list (each date shown once)."""
    return _TRAILING_DATE.sub("", statement)
