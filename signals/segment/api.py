"""The Segment HTTP Tracking API (``/v1/track``, ``/v1/page``, ``/v1/batch`` …), so unmodified
Segment and RudderStack SDKs can send: a thin doorway to ``signals.segment.service.ingest_segment``.

Authenticate (HTTP Basic or ``writeKey`` in the body; Segment sources' keys only), count the
request against the source's rate, read the body within limits, hand it to one service, and answer
only after it is stored.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from salesai import clock
from signals.intake import (
    IngestView,
    Refused,
    decode_text,
    error_responses,
    parse_json,
    read_body,
    require_json_content_type,
    require_kind,
    unauthorized,
)
from signals.models import Source
from signals.segment import dialect
from signals.segment.serializers import (
    SegmentBatchSerializer,
    SegmentEventSerializer,
    SegmentResponseSerializer,
)
from signals.segment.service import ingest_segment
from signals.sources import source_for_write_key
from signals.throttling import check_source_rate

SEGMENT_RESPONSES = {
    200: SegmentResponseSerializer,
    **error_responses(
        {
            400: "Invalid JSON, gzip or fields; nothing stored.",
            401: "Missing or wrong write key.",
            403: "The write key is not a Segment source's.",
            413: "Over 32 KB per call, 500 KB per batch or 500 calls per batch.",
            415: "Not JSON, or an encoding other than gzip.",
            429: "Over the source's rate limit; see Retry-After.",
        }
    ),
}
SEGMENT_AUTH_DOC = (
    "Authenticate with HTTP Basic auth, the source's write key as user name and an empty password "
    "(as Segment and RudderStack SDKs do), or with `writeKey` in the body. Bodies may be gzip "
    '(`Content-Encoding: gzip`). Answers `{"success": true}` after the signals are stored. Only keys of '
    "Segment sources open these endpoints. Identify and group traits fill only empty fields of contacts "
    "and accounts (and are kept as what the website said) unless the source is marked trusted; new "
    "accounts per source and hour are capped (signals beyond it are stored without an account). "
    f"properties, traits and context may nest at most {dialect.MAX_NESTING_DEPTH} levels."
)


class SegmentView(IngestView):
    """One Segment HTTP Tracking API endpoint; ``event_type`` is its call type or ``batch``."""

    event_type = "track"

    def post(self, request, *args, **kwargs):
        received_at = clock.now()
        source = request.auth
        if source is not None:
            require_kind(source, Source.Kind.SEGMENT)
        max_bytes = dialect.MAX_BATCH_BYTES if self.event_type == "batch" else dialect.MAX_EVENT_BYTES
        body: bytes = b""
        try:
            require_json_content_type(request, also_text_plain=True)
            body = read_body(request, max_bytes=max_bytes)
            data = parse_json(decode_text(body))
        except Refused as exc:
            self.handle_refusal(exc, source=source, body=body)
        if source is None:
            write_key = data.get("writeKey") if isinstance(data, dict) else None
            if not isinstance(write_key, str) or not write_key:
                raise unauthorized("Send the write key as HTTP Basic user name or as writeKey.")
            source = source_for_write_key(write_key)
            if source is None:
                raise unauthorized("Unknown or inactive write key.", field="writeKey")
            require_kind(source, Source.Kind.SEGMENT, field="writeKey")
        check_source_rate(source)
        try:
            events, sent_at = self._events(data)
        except Refused as exc:
            self.handle_refusal(exc, source=source, body=body)
        except dialect.EventError as exc:
            self.handle_refusal(Refused(400, exc.code, exc.message, exc.fields), source=source, body=body)
        result = ingest_segment(
            source=source,
            events=events,
            type_hint=self.event_type,
            endpoint=self.endpoint,
            sent_at=sent_at,
            received_at=received_at,
            check_sizes=len(body) > dialect.MAX_EVENT_BYTES,
            body=body,
        )
        if result.errors and not result.created_ids and not result.duplicates:
            if self.event_type == "batch":
                fields: dict = {}
                for error in result.errors:
                    fields.update(error["fields"])
                raise Refused(400, "invalid_batch", "No event of the batch is valid; see fields.", fields)
            error = result.errors[0]
            raise Refused(400, error["code"], error["message"], error["fields"])
        return Response(
            {"success": True, "stored": result.stored, "duplicates": result.duplicates, "errors": result.errors}
        )

    def _events(self, data: object) -> tuple[list[object], object]:
        if not isinstance(data, dict):
            raise Refused(400, "invalid_body", "The body must be a JSON object.", {"body": "Must be a JSON object."})
        if self.event_type != "batch":
            return [data], None
        batch = data.get("batch")
        if not isinstance(batch, list) or not batch:
            raise Refused(
                400,
                "invalid_batch",
                "batch must be a non-empty list of events.",
                {"batch": "This field is required." if batch is None else "Must be a non-empty list."},
            )
        if len(batch) > dialect.MAX_BATCH_EVENTS:
            raise Refused(
                413,
                "too_many_events",
                f"A batch may carry at most {dialect.MAX_BATCH_EVENTS} calls; send the rest in another.",
                {"batch": f"{len(batch)} calls; at most {dialect.MAX_BATCH_EVENTS}."},
            )
        sent_at = dialect.parse_timestamp(data.get("sentAt"), "sentAt")
        return batch, sent_at


def _segment_view(event_type: str, summary: str, example: dict):
    request_serializer = SegmentBatchSerializer if event_type == "batch" else SegmentEventSerializer

    @extend_schema(
        operation_id=f"segment_{event_type}",
        tags=["ingestion: Segment HTTP Tracking API"],
        summary=summary,
        description=SEGMENT_AUTH_DOC,
        request=request_serializer,
        responses=SEGMENT_RESPONSES,
        examples=[OpenApiExample(f"{event_type} call", value=example, request_only=True)],
    )
    def post(self, request, *args, **kwargs):
        return SegmentView.post(self, request, *args, **kwargs)

    return type(
        f"Segment{event_type.title()}View",
        (SegmentView,),
        {"event_type": event_type, "endpoint": f"/v1/{event_type}", "post": post, "__doc__": summary},
    )


_TRACK_EXAMPLE = {"userId": "u-42", "event": "Demo Requested", "properties": {"plan": "team"}, "messageId": "m-1"}
SegmentBatchView = _segment_view(
    "batch", "Send many calls at once (≤ 500 KB)", {"batch": [{"type": "track", **_TRACK_EXAMPLE}]}
)
SegmentTrackView = _segment_view("track", "Record an action (event name → signal kind)", _TRACK_EXAMPLE)
SegmentPageView = _segment_view(
    "page", "Record a page view", {"anonymousId": "a-1", "properties": {"url": "https://acme.com/pricing"}}
)
SegmentScreenView = _segment_view("screen", "Record a mobile screen view (stored as a page view)", {"userId": "u-42"})
SegmentIdentifyView = _segment_view(
    "identify", "Tie a user to a person (upserts the contact)", {"userId": "u-42", "traits": {"email": "a@acme.com"}}
)
SegmentGroupView = _segment_view(
    "group",
    "Tie a user to a company (upserts the account)",
    {"userId": "u-42", "groupId": "g-7", "traits": {"website": "https://acme.com", "plan": "team", "seats": 40}},
)
SegmentAliasView = _segment_view("alias", "Merge a previous id into a user", {"userId": "u-42", "previousId": "a-1"})
