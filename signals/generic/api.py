"""``POST /api/v1/signals``: our own signal format, signed per the Standard Webhooks spec; a thin
doorway to ``signals.generic.service.ingest_generic``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from salesai import clock
from signals.generic.format import MAX_ITEMS, GenericResponseSerializer, GenericSignalSerializer
from signals.generic.service import ENDPOINT, ingest_generic
from signals.intake import (
    IngestView,
    Refused,
    decode_text,
    error_responses,
    parse_json,
    read_body,
    require_json_content_type,
    unauthorized,
)
from signals.models import Source
from signals.sources import source_for_write_key
from signals.throttling import check_source_rate

MAX_BYTES = 2 * 1024 * 1024


def generic_source(request) -> Source:
    """Which source a signed delivery claims to come from: HTTP Basic write key, ``X-Source-Key``
    (the write key) or ``webhook-source`` (the source name). The claim alone proves nothing: the
    Standard Webhooks signature with that source's secret is always required."""
    if isinstance(request.auth, Source):
        return request.auth
    key = request.META.get("HTTP_X_SOURCE_KEY", "").strip()
    if key:
        source = source_for_write_key(key)
    else:
        name = request.META.get("HTTP_WEBHOOK_SOURCE", "").strip()
        if not name:
            raise unauthorized(
                "Name the source: HTTP Basic write key, X-Source-Key or webhook-source header.", field="webhook-source"
            )
        source = Source.objects.filter(name=name, active=True).first()
    if source is None or not source.signing_secret:
        raise unauthorized("Unknown or inactive source.", field="webhook-source")
    return source


def verify_signature(source: Source, text: str, request) -> str:
    """Check the Standard Webhooks signature (5-minute tolerance); return the ``webhook-id``."""
    headers = {
        name: request.META.get("HTTP_" + name.upper().replace("-", "_"), "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise unauthorized(f"Missing {', '.join(missing)}.", field=missing[0])
    if len(headers["webhook-id"]) > 150:
        raise unauthorized("webhook-id is too long (at most 150 characters).", field="webhook-id")
    try:
        Webhook(source.signing_secret).verify(text, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise unauthorized(f"Signature refused: {exc}.", field="webhook-signature")
    except (ValueError, TypeError, UnicodeError):  # malformed signature or base64 (not the library's error)
        raise unauthorized("Signature refused: malformed webhook-signature.", field="webhook-signature")
    return headers["webhook-id"]


class SignalsView(IngestView):
    endpoint = ENDPOINT

    @extend_schema(
        operation_id="signals_ingest",
        tags=["ingestion: signed signals"],
        summary="Send signals in our own format (one object or a list of up to 1,000)",
        description=(
            "Signed per the Standard Webhooks spec: `webhook-id`, `webhook-timestamp` (within 5 minutes) "
            "and `webhook-signature` (v1, HMAC-SHA256 with the source's `whsec_` secret) are required. "
            "Name the source with HTTP Basic auth (write key as user name), an `X-Source-Key: <write key>` "
            "header or `webhook-source: <source name>`; the signature is always checked. A `webhook-id` "
            "already stored for the source answers 200 with `replayed: true` and stores nothing. In a list, "
            "valid items are stored and invalid ones reported by index (400 only when none is valid)."
        ),
        request=GenericSignalSerializer(many=True),
        parameters=[
            OpenApiParameter("webhook-id", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-timestamp", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-source", OpenApiTypes.STR, OpenApiParameter.HEADER),
            OpenApiParameter("X-Source-Key", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={
            200: GenericResponseSerializer,
            **error_responses(
                {
                    400: "Invalid JSON or fields.",
                    401: "Unknown source or bad signature.",
                    413: "Body over 2 MB.",
                    415: "Not JSON.",
                    429: "Over the source's rate limit.",
                }
            ),
        },
        examples=[
            OpenApiExample(
                "one signal",
                value={
                    "kind": "form_submitted",
                    "name": "Demo Requested",
                    "occurred_at": "2026-11-26T10:00:00Z",
                    "contact_email": "ada@acme.com",
                    "external_id": "form-123",
                    "properties": {"form": "demo"},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, *args, **kwargs):
        received_at = clock.now()
        source = generic_source(request)
        body: bytes = b""
        try:
            require_json_content_type(request)
            body = read_body(request, max_bytes=MAX_BYTES)
            text = decode_text(body)
        except Refused as exc:
            exc.content = False  # not yet verified: nobody vouched for this body
            raise exc
        webhook_id = verify_signature(source, text, request)
        check_source_rate(source)
        try:
            data = parse_json(text)
            items, single = self._items(data)
        except Refused as exc:
            self.handle_refusal(exc, source=source, body=body)
        result = ingest_generic(
            source=source, webhook_id=webhook_id, items=items, single=single, received_at=received_at
        )
        if result.errors and not result.created_ids and not result.duplicates:
            if single:
                error = result.errors[0]
                raise Refused(400, error["code"], error["message"], error["fields"], content=False)
            fields: dict = {}
            for error in result.errors:
                fields.update(error["fields"])
            raise Refused(400, "invalid_signals", "No signal of the list is valid; see fields.", fields, content=False)
        return Response(
            {
                "success": True,
                "stored": result.stored,
                "duplicates": result.duplicates,
                "replayed": result.replayed,
                "errors": result.errors,
            }
        )

    def _items(self, data: object) -> tuple[list[object], bool]:
        if isinstance(data, dict):
            return [data], True
        if isinstance(data, list):
            if not data:
                raise Refused(400, "invalid_body", "The list of signals is empty.", {"body": "Empty list."})
            if len(data) > MAX_ITEMS:
                raise Refused(
                    400,
                    "too_many_signals",
                    f"At most {MAX_ITEMS} signals per request.",
                    {"body": f"{len(data)} items; at most {MAX_ITEMS}."},
                )
            return data, False
        raise Refused(
            400, "invalid_body", "Send a signal object or a list of them.", {"body": "Must be an object or list."}
        )
