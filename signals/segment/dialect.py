"""The Segment / RudderStack dialect: validating one Tracking API call and translating it into a
signal (kind, time, who, properties). No writes here; ``signals.segment.service.ingest_segment`` stores.

Limits follow Segment's HTTP Tracking API: 32 KB per call, 500 KB per batch request. Two more
bound what one request can cost us: at most ``MAX_BATCH_EVENTS`` calls per batch, and properties,
traits and context nested at most ``MAX_NESTING_DEPTH`` levels (deeper JSON is accepted by the
parser but later exhausts Python's recursion limit wherever it is read back, e.g. a page).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_datetime

from salesai.text import single_line
from signals.models import Signal

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
# Segment's own SDKs send at most 100 calls per batch (analytics-python's upload_size); a 500 KB
# body of tiny calls could otherwise carry thousands, each resolved and stored in one transaction.
MAX_BATCH_EVENTS = 500
MAX_NESTING_DEPTH = 32
MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
EVENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")

# Track event name → signal kind. Matching ignores case, spaces, underscores and dashes
# ("demo_requested" = "Demo Requested"). A source's ``event_map`` adds to and overrides this table.
DEFAULT_EVENT_MAP: dict[str, str] = {
    # a person raised their hand
    "Demo Requested": Signal.Kind.FORM_SUBMITTED,
    "Form Submitted": Signal.Kind.FORM_SUBMITTED,
    "Signed Up": Signal.Kind.FORM_SUBMITTED,
    "Trial Started": Signal.Kind.FORM_SUBMITTED,
    "Contact Requested": Signal.Kind.FORM_SUBMITTED,
    "Quote Requested": Signal.Kind.FORM_SUBMITTED,
    "Pricing Requested": Signal.Kind.FORM_SUBMITTED,
    "Lead Captured": Signal.Kind.FORM_SUBMITTED,
    # a meeting is on the calendar
    "Meeting Booked": Signal.Kind.MEETING_BOOKED,
    "Meeting Scheduled": Signal.Kind.MEETING_BOOKED,
    "Demo Scheduled": Signal.Kind.MEETING_BOOKED,
    "Call Booked": Signal.Kind.MEETING_BOOKED,
    # people use the product
    "Feature Used": Signal.Kind.PRODUCT_USAGE,
    "Report Created": Signal.Kind.PRODUCT_USAGE,
    "Logged In": Signal.Kind.PRODUCT_USAGE,
    "Signed In": Signal.Kind.PRODUCT_USAGE,
    "Project Created": Signal.Kind.PRODUCT_USAGE,
    "Dashboard Viewed": Signal.Kind.PRODUCT_USAGE,
    "User Invited": Signal.Kind.PRODUCT_USAGE,
    "Integration Connected": Signal.Kind.PRODUCT_USAGE,
    "File Uploaded": Signal.Kind.PRODUCT_USAGE,
    "Export Created": Signal.Kind.PRODUCT_USAGE,
    "Seat Added": Signal.Kind.PRODUCT_USAGE,
    # a page view sent as a track call
    "Page Viewed": Signal.Kind.PAGE_VIEW,
    "Pricing Viewed": Signal.Kind.PAGE_VIEW,
}

_MAPPABLE_KINDS = frozenset(Signal.Kind.values)


def event_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


_DEFAULTS_BY_KEY = {event_key(name): kind for name, kind in DEFAULT_EVENT_MAP.items()}


def kind_for_event(name: str, source_map: dict | None = None) -> str:
    """The signal kind of a track event: the source's own table first, then the defaults; an
    unknown name is ``custom`` (the name itself is kept on the signal)."""
    key = event_key(name)
    if source_map:
        for mapped_name, kind in source_map.items():
            if event_key(str(mapped_name)) == key and kind in _MAPPABLE_KINDS:
                return kind
    return _DEFAULTS_BY_KEY.get(key, Signal.Kind.CUSTOM)


class EventError(Exception):
    """One call we refuse for its content; ``fields`` names what was wrong."""

    def __init__(self, code: str, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


@dataclass
class SegmentEvent:
    type: str
    message_id: str
    occurred_at: datetime
    user_id: str = ""
    anonymous_id: str = ""
    event: str = ""
    name: str = ""
    group_id: str = ""
    previous_id: str = ""
    properties: dict = field(default_factory=dict)
    traits: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        """An e-mail address the call carries about its person, if any."""
        for bag in (self.traits if self.type == "identify" else {}, self.context.get("traits") or {}):
            value = bag.get("email") if isinstance(bag, dict) else None
            if isinstance(value, str) and value:
                return value
        return None


# Libraries that run on a visitor's device: their write key ships inside the page or the app, so
# anyone has it. A call from one never counts as a trusted source's (see ``Source.trusted_traits``).
_DEVICE_LIBRARIES = re.compile(
    r"analytics\.js|analytics-next|javascript|\bios\b|android|swift|kotlin|react-native|flutter", re.I
)


def sent_from_device(event: SegmentEvent) -> bool:
    """Whether the call says it came from a browser or mobile library (``context.library.name``)."""
    library = event.context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    return isinstance(name, str) and _DEVICE_LIBRARIES.search(name) is not None


def parse_timestamp(value: object, field_name: str) -> datetime | None:
    """An aware datetime from an ISO-8601 string (naive means UTC); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise EventError("invalid_timestamp", f"{field_name} must be an ISO-8601 date-time.", {field_name: "Invalid."})
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise EventError(
            "invalid_timestamp",
            f"{field_name} must be an ISO-8601 date-time.",
            {field_name: f"Not an ISO-8601 date-time: {value[:40]!r}."},
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _string(raw: dict, key: str, *, required: bool = False, max_length: int = MAX_ID_LENGTH) -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise EventError("missing_field", f"{key} is required.", {key: "This field is required."})
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError("invalid_field", f"{key} must be a string.", {key: "Must be a string."})
    value = str(value)
    if len(value) > max_length:
        raise EventError("invalid_field", f"{key} is too long.", {key: f"At most {max_length} characters."})
    return value


def _object(raw: dict, key: str) -> dict:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError("invalid_field", f"{key} must be an object.", {key: "Must be a JSON object."})
    check_depth(value, key)
    return value


def check_depth(value: dict | list, field_name: str, *, limit: int = MAX_NESTING_DEPTH) -> None:
    """Refuse JSON nested more than ``limit`` levels (``value`` itself is the first). Walks with its
    own stack, so the check cannot itself run out of recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if depth >= limit:
                    raise EventError(
                        "too_deep",
                        f"{field_name} is nested deeper than {limit} levels.",
                        {field_name: f"Nested deeper than {limit}."},
                    )
                stack.append((child, depth + 1))


def _encoded_size(raw: dict) -> int:
    """The call's size as compact UTF-8 JSON, as Segment counts it (escapes would overcount)."""
    return len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def parse_event(
    raw: object,
    *,
    type_hint: str | None,
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    check_size: bool = False,
) -> SegmentEvent:
    """Validate one call and correct its time for client clock skew as Segment documents:
    ``timestamp = receivedAt - (sentAt - originalTimestamp)`` when the client said when it sent.

    ``type_hint`` is the endpoint's type (``/v1/track`` → track); in a batch each item names its own."""
    if not isinstance(raw, dict):
        raise EventError("invalid_event", "Each event must be a JSON object.", {"": "Must be a JSON object."})
    if check_size and _encoded_size(raw) > MAX_EVENT_BYTES:
        raise EventError("event_too_large", "An event may be at most 32 KB.", {"": "Larger than 32 KB."})
    event_type = raw.get("type") or (type_hint if type_hint != "batch" else None)
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise EventError(
            "invalid_type",
            f"type must be one of {', '.join(EVENT_TYPES)}.",
            {"type": "Missing or unknown event type." if not event_type else f"Unknown type {str(event_type)[:30]!r}."},
        )
    if type_hint and type_hint != "batch" and event_type != type_hint:
        raise EventError("invalid_type", f"This endpoint takes {type_hint} calls.", {"type": f"Must be {type_hint}."})
    user_id = _string(raw, "userId")
    anonymous_id = _string(raw, "anonymousId")
    if event_type != "alias" and not user_id and not anonymous_id:
        raise EventError(
            "missing_field", "userId or anonymousId is required.", {"userId": "userId or anonymousId is required."}
        )
    message_id = _string(raw, "messageId") or f"generated-{uuid.uuid4().hex}"
    properties = _object(raw, "properties")
    traits = _object(raw, "traits")
    context = _object(raw, "context")
    if event_type == "identify" and isinstance(context.get("traits"), dict):
        # RudderStack's SDK sends identify traits only in context.traits
        traits = {**context["traits"], **traits}
    original = parse_timestamp(raw.get("originalTimestamp"), "originalTimestamp") or parse_timestamp(
        raw.get("timestamp"), "timestamp"
    )
    sent_at = parse_timestamp(raw.get("sentAt"), "sentAt") or batch_sent_at
    if original is None:
        occurred_at = received_at
    elif sent_at is not None:
        occurred_at = original + (received_at - sent_at)
    else:
        occurred_at = original
    if not (datetime(1970, 1, 2, tzinfo=UTC) < occurred_at < received_at + timedelta(days=1)):
        raise EventError(
            "invalid_timestamp", "timestamp is out of range.", {"timestamp": "Before 1970 or more than a day ahead."}
        )
    parsed = SegmentEvent(
        type=event_type,
        message_id=message_id,
        occurred_at=occurred_at,
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties=properties,
        traits=traits,
        context=context,
    )
    if event_type == "track":
        parsed.event = _string(raw, "event", required=True)
    elif event_type in ("page", "screen"):
        parsed.name = _string(raw, "name")
    elif event_type == "group":
        parsed.group_id = _string(raw, "groupId", required=True)
    elif event_type == "alias":
        parsed.previous_id = _string(raw, "previousId", required=True)
        if not user_id:
            raise EventError("missing_field", "userId is required.", {"userId": "This field is required."})
    return parsed


def page_properties(event: SegmentEvent) -> dict:
    """A page view's url, path, title and referrer (from properties, else context.page)."""
    page = event.context.get("page") if isinstance(event.context.get("page"), dict) else {}
    properties = dict(event.properties)
    for key in ("url", "path", "title", "referrer", "search"):
        if key not in properties and isinstance(page.get(key), str):
            properties[key] = page[key]
    if event.name:
        properties.setdefault("name", event.name)
    return properties


def translate(event: SegmentEvent, source_map: dict | None) -> tuple[str, str, dict]:
    """(kind, name, properties) of the signal a call becomes."""
    if event.type == "track":
        return (
            kind_for_event(event.event, source_map),
            single_line(event.event, max_length=MAX_NAME_LENGTH),
            event.properties,
        )
    if event.type in ("page", "screen"):
        return Signal.Kind.PAGE_VIEW, single_line(event.name, max_length=MAX_NAME_LENGTH), page_properties(event)
    if event.type == "identify":
        return Signal.Kind.IDENTIFY, "", {"traits": event.traits}
    if event.type == "group":
        return Signal.Kind.GROUP, "", {"group_id": event.group_id, "traits": event.traits}
    return Signal.Kind.CUSTOM, "Alias", {"previous_id": event.previous_id}
