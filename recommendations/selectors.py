"""Reads of recommendations, always through the one scoping selector; the account page's reads; and
who approved what (the review services and the executor both ask)."""

from __future__ import annotations

import json
import re

from django.db.models import Prefetch, QuerySet, TextField
from django.db.models.functions import Cast

from accounts.models import AccountPicture, Contact
from recommendations.models import Evidence, Recommendation, Review
from salesai.roles import is_manager
from signals.models import Signal

#: The inbox's order, wherever a rep's cards are listed (inbox, API, digest): the most urgent first,
#: then the newest; the id settles ties (cards of one analysis share a time), so two reads agree.
INBOX_ORDER = ("-priority", "-created_at", "-pk")


def recommendations_for(*, user) -> QuerySet[Recommendation]:
    """The only way the inbox, the API and exports get recommendations: a manager sees all, a rep
    those of accounts they own, anyone else nothing. Anything outside it answers 404."""
    if not getattr(user, "is_authenticated", False):
        return Recommendation.objects.none()
    if is_manager(user):
        return Recommendation.objects.all()
    return Recommendation.objects.filter(account__owner=user)


def recommendations_for_api(*, user) -> QuerySet[Recommendation]:
    """The API's rows: scoped first, then joined so a page costs a constant number of queries."""
    return (
        recommendations_for(user=user)
        .select_related("account", "contact", "trust_decision")
        .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("-occurred_at", "id")))
    )


#: Stored JSON from outside (signal properties, website traits) deeper than this is not decoded for
#: people: decoding it recurses once per level, and a page must not fail because a sender nested deep.
MAX_SHOWN_DEPTH = 32
OMITTED = {"omitted": f"nested deeper than {MAX_SHOWN_DEPTH} levels: not shown"}
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def json_depth_within(text: str, limit: int = MAX_SHOWN_DEPTH) -> bool:
    """Whether the JSON ``text`` nests at most ``limit`` levels, found without decoding it."""
    if text.count("{") + text.count("[") <= limit:
        return True
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return False
    return True


def shown_json(text: str | None) -> dict:
    """Stored JSON text as a dict for display: ``OMITTED`` when too deep, ``{}`` when not an object."""
    if not text:
        return {}
    if not json_depth_within(text):
        return dict(OMITTED)
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def with_shown_json(queryset: QuerySet, field: str) -> QuerySet:
    """``queryset`` with the JSON ``field`` read as text (decoded by :func:`shown_json` on access to
    ``<field>_shown``), so a row nested too deep cannot fail the whole list."""
    return queryset.defer(field).annotate(**{f"{field}_text": Cast(field, TextField())})


def decode_shown(rows, field: str) -> list:
    """Set ``<field>_shown`` on each row read through :func:`with_shown_json`; return the rows."""
    rows = list(rows)
    for row in rows:
        setattr(row, f"{field}_shown", shown_json(getattr(row, f"{field}_text")))
    return rows


def timeline(*, account, limit: int) -> list:
    """The account's newest signals for people (page and API), each with ``properties_shown``."""
    queryset = Signal.objects.filter(account=account).select_related("contact").order_by("-occurred_at", "-id")
    queryset = queryset.defer("contact__traits")
    return decode_shown(with_shown_json(queryset, "properties")[:limit], "properties")


def account_picture(*, account) -> dict:
    """The account's picture, its open recommendations and a timeline of its recent signals."""
    picture = AccountPicture.objects.filter(account=account).first() or AccountPicture(account=account)
    signals = timeline(account=account, limit=50)
    open_recs = list(
        Recommendation.objects.filter(account=account, status__in=Recommendation.OPEN_STATUSES).values(
            "id", "action_type", "title", "status", "priority"
        )
    )
    return {
        "account": account,
        "features": picture.features or {},
        "scores": {
            "engagement": picture.engagement_score,
            "intent": picture.intent_score,
            "risk": picture.risk_score,
        },
        "version": picture.version,
        "analyzed_at": picture.analyzed_at,
        "next_check_at": picture.next_check_at,
        "open_recommendations": open_recs,
        "timeline": signals,
    }


# --- who approved what -----------------------------------------------------------------------------


def unvouched_recipient(recommendation: Recommendation) -> str:
    """Why salesai may not e-mail this recommendation's contact on its own, as a sentence ('' if it may;
    a customer e-mail with no contact yet always waits for a person).

    Only people at the account's own domain, or whom the CRM or a person vouched for
    (``Contact.origin``), may get an e-mail no person looked at: anyone can make salesai *know* an
    address (a forged inbound e-mail, the public website key), and no one outside may choose whom it
    writes to."""
    if recommendation.is_internal:
        return ""
    if recommendation.contact_id is None:
        return "Needs review: no one to send it to yet; a person adds or picks the contact"
    contact, domain = recommendation.contact, recommendation.account.domain
    if contact.origin in Contact.AUTHORITATIVE_ORIGINS or contact.is_at_domain(domain):
        return ""
    return (
        f"Needs review: {contact.email} is not at {domain} and was not vouched for by the CRM or a person "
        f"(it came from {Contact.Origin(contact.origin).label.lower()}), so salesai never e-mails it on its own"
    )


def recipient_of(recommendation: Recommendation) -> str:
    """The address a customer e-mail of this recommendation goes to ('' for internal notices)."""
    if recommendation.is_internal or recommendation.contact_id is None:
        return ""
    return recommendation.contact.email


def latest_approval(recommendation: Recommendation) -> Review | None:
    """The approving review since the last cancel, whatever version it approved."""
    latest = (
        recommendation.reviews.filter(
            decision__in=[Review.Decision.APPROVED, Review.Decision.EDITED, Review.Decision.CANCELLED]
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is None or latest.decision == Review.Decision.CANCELLED:
        return None
    return latest


def approval_matches(recommendation: Recommendation, approval: Review) -> bool:
    """Whether ``approval`` is of exactly what would be sent now: the same version, the same recipient."""
    return approval.version == recommendation.version and approval.recipient == recipient_of(recommendation)


def approved_by_person(recommendation: Recommendation) -> Review | None:
    """The approving review since the last cancel, if a person approved the current version for the
    current recipient; an approval of anything else is nobody's approval of what would be sent."""
    approval = latest_approval(recommendation)
    if approval is None or not approval_matches(recommendation, approval):
        return None
    return approval
