"""Reads of recommendations, always through the one scoping selector, and the account page's reads."""

from __future__ import annotations

import json
import re

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from recommendations.models import Recommendation
from salesai.roles import is_manager


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
    from django.db.models import Prefetch

    from recommendations.models import Evidence

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
    from signals.models import Signal

    queryset = Signal.objects.filter(account=account).select_related("contact").order_by("-occurred_at", "-id")
    queryset = queryset.defer("contact__traits")
    return decode_shown(with_shown_json(queryset, "properties")[:limit], "properties")


def account_picture(*, account) -> dict:
    """The account's picture, its open recommendations and a timeline of its recent signals."""
    from accounts.models import AccountPicture

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
