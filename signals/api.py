"""Ingestion doorways: the Segment HTTP Tracking API, our signed signal webhook, and CRM sync.

Views are thin: authenticate the source, read the body within limits, parse, hand over to one
service, answer only after it committed (store first). Every refusal is a specific 4xx in the error
shape of DESIGN.md §4; anything refused for its *content* from an authenticated source is kept in
``QuarantinedPayload``; auth failures are not (nobody vouched for them).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import APIView
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from salesai import clock
from salesai.api_errors import DomainError
from salesai.roles import is_manager
from signals import segment, serializers
from signals.auth import source_for_write_key, source_for_write_key_cached
from signals.models import Source
from signals.services import MAX_GENERIC_ITEMS, crm_sync_accounts, ingest_generic, ingest_segment, quarantine
from signals.throttling import check_source_rate

MAX_GENERIC_BYTES = 2 * 1024 * 1024
_SUSPICIOUS_ESCAPES = re.compile(r"\\u(0000|[dD][89a-fA-F])")


class Refused(DomainError):
    """A refusal raised while reading a request; ``quarantine`` says whether it was for content."""

    def __init__(self, status_code: int, code: str, message: str, fields: dict | None = None, *, content=True):
        super().__init__(message, code=code, fields=fields, status_code=status_code)
        self.content = content


def _unauthorized(message: str, field: str = "Authorization") -> Refused:
    return Refused(status.HTTP_401_UNAUTHORIZED, "unauthorized", message, {field: message}, content=False)


def require_kind(source: Source, kind: str, *, field: str = "Authorization") -> None:
    """Refuse a key of another kind of source: each doorway opens only to its own sources' keys, so a
    signed source's key cannot skip its signature on the unsigned Segment endpoints."""
    if source.kind != kind:
        message = (
            f"This key belongs to a {source.get_kind_display()} source; "
            f"this endpoint takes {Source.Kind(kind).label} sources' keys only."
        )
        raise Refused(status.HTTP_403_FORBIDDEN, "wrong_source_kind", message, {field: message}, content=False)


def basic_auth_user(request) -> str | None:
    """The user name of an HTTP Basic ``Authorization`` header (Segment's write key), or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _unauthorized("Malformed HTTP Basic credentials.")
    return decoded.partition(":")[0] or None


def read_body(request, *, max_bytes: int) -> bytes:
    """The request body within ``max_bytes`` (after gzip decompression, which is capped too, so a
    zip bomb costs us at most ``max_bytes``)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Refused(400, "invalid_header", "Content-Length is not a number.", {"Content-Length": "Invalid."})
    if length > max_bytes:
        raise Refused(
            413, "payload_too_large", f"The body may be at most {max_bytes // 1024} KB.", {"body": "Too large."}
        )
    body = request.body
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise Refused(
            415, "unsupported_encoding", "Only gzip request bodies are supported.", {"Content-Encoding": encoding[:40]}
        )
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, max_bytes + 1)
        if len(inflated) <= max_bytes:
            inflated += inflater.flush()
    except zlib.error:
        raise Refused(400, "invalid_gzip", "The body is not valid gzip.", {"body": "Not valid gzip."})
    if len(inflated) > max_bytes:
        raise Refused(
            413,
            "payload_too_large",
            f"The decompressed body may be at most {max_bytes // 1024} KB.",
            {"body": "Too large when decompressed."},
        )
    if not inflater.eof:
        raise Refused(400, "invalid_gzip", "The gzip body is truncated.", {"body": "Truncated gzip."})
    return inflated


def require_json_content_type(request) -> None:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise Refused(
            415,
            "unsupported_media_type",
            "Send JSON with Content-Type: application/json.",
            {"Content-Type": f"Must be application/json, not {content_type[:60]}."},
        )


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "invalid_encoding", "The body must be UTF-8.", {"body": f"Not UTF-8 at byte {exc.start}."})


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> object:
    """Strict JSON (no NaN/Infinity); refuses NUL characters and lone surrogates, which no database
    column can store."""
    if not text.strip():
        raise Refused(400, "invalid_json", "The body is empty.", {"body": "Empty body."})
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, "invalid_json", "The body is not valid JSON.", {"body": str(exc)[:200]})
    if _SUSPICIOUS_ESCAPES.search(text):
        _check_storable(data, "body")
    return data


def _check_storable(value: object, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise Refused(400, "invalid_json", "Strings may not contain NUL characters.", {path: "Contains \\u0000."})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(400, "invalid_json", "Strings may not contain lone surrogates.", {path: "Invalid text."})
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, path)
            _check_storable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}.{index}")


class WriteKeyAuthentication(BaseAuthentication):
    """HTTP Basic with a source's write key as user name (password ignored), as Segment does.
    ``request.auth`` becomes the Source; no header means "not this way" (the views then look for
    ``writeKey`` in the body or a ``webhook-source`` header)."""

    def authenticate(self, request):
        key = basic_auth_user(request._request)
        if key is None:
            return None
        source = source_for_write_key_cached(key)
        if source is None:
            raise _unauthorized("Unknown or inactive write key.")
        return AnonymousUser(), source

    def authenticate_header(self, request) -> str:
        return 'Basic realm="salesai"'


class WriteKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = WriteKeyAuthentication
    name = "writeKeyBasic"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The source's write key as user name, empty password.",
        }


class IngestView(APIView):
    """Base of the source-authenticated endpoints: no session, no CSRF, no DRF auth classes (the
    source is the credential), and quarantine of refused content."""

    authentication_classes = [WriteKeyAuthentication]
    permission_classes: list = []
    throttle_classes: list = []
    endpoint = ""

    def handle_refusal(self, exc: Refused, *, source: Source | None, body: bytes | str | object) -> None:
        if exc.content and source is not None:
            quarantine(
                source=source, endpoint=self.endpoint, error_code=exc.code, errors=exc.fields, payload=body or b""
            )
        raise exc


SEGMENT_RESPONSES = {
    200: serializers.SegmentResponseSerializer,
    400: OpenApiResponse(serializers.ErrorSerializer, description="Invalid JSON, gzip or fields; nothing stored."),
    401: OpenApiResponse(serializers.ErrorSerializer, description="Missing or wrong write key."),
    403: OpenApiResponse(serializers.ErrorSerializer, description="The write key is not a Segment source's."),
    413: OpenApiResponse(
        serializers.ErrorSerializer, description="Over 32 KB per call, 500 KB per batch or 500 calls per batch."
    ),
    415: OpenApiResponse(serializers.ErrorSerializer, description="Not JSON, or an encoding other than gzip."),
    429: OpenApiResponse(serializers.ErrorSerializer, description="Over the source's rate limit; see Retry-After."),
}
SEGMENT_AUTH_DOC = (
    "Authenticate with HTTP Basic auth, the source's write key as user name and an empty password "
    "(as Segment and RudderStack SDKs do), or with `writeKey` in the body. Bodies may be gzip "
    '(`Content-Encoding: gzip`). Answers `{"success": true}` after the signals are stored. Only keys of '
    "Segment sources open these endpoints. Identify and group traits fill only empty fields of contacts "
    "and accounts (and are kept as what the website said) unless the source is marked trusted; new "
    "accounts per source and hour are capped (signals beyond it are stored without an account). "
    f"properties, traits and context may nest at most {segment.MAX_NESTING_DEPTH} levels."
)


class SegmentView(IngestView):
    """One Segment HTTP Tracking API endpoint; ``event_type`` is its call type or ``batch``."""

    event_type = "track"

    def post(self, request, *args, **kwargs):
        received_at = clock.now()
        source = request.auth
        if source is not None:
            require_kind(source, Source.Kind.SEGMENT)
        max_bytes = segment.MAX_BATCH_BYTES if self.event_type == "batch" else segment.MAX_EVENT_BYTES
        body: bytes = b""
        try:
            require_json_content_type(request)
            body = read_body(request, max_bytes=max_bytes)
            data = parse_json(decode_text(body))
        except Refused as exc:
            self.handle_refusal(exc, source=source, body=body)
        if source is None:
            write_key = data.get("writeKey") if isinstance(data, dict) else None
            if not isinstance(write_key, str) or not write_key:
                raise _unauthorized("Send the write key as HTTP Basic user name or as writeKey.")
            source = source_for_write_key(write_key)
            if source is None:
                raise _unauthorized("Unknown or inactive write key.", field="writeKey")
            require_kind(source, Source.Kind.SEGMENT, field="writeKey")
        check_source_rate(source)
        try:
            events, sent_at = self._events(data)
        except Refused as exc:
            self.handle_refusal(exc, source=source, body=body)
        except segment.EventError as exc:
            self.handle_refusal(Refused(400, exc.code, exc.message, exc.fields), source=source, body=body)
        result = ingest_segment(
            source=source,
            events=events,
            type_hint=self.event_type,
            endpoint=self.endpoint,
            sent_at=sent_at,
            received_at=received_at,
            check_sizes=len(body) > segment.MAX_EVENT_BYTES,
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
        if len(batch) > segment.MAX_BATCH_EVENTS:
            raise Refused(
                413,
                "too_many_events",
                f"A batch may carry at most {segment.MAX_BATCH_EVENTS} calls; send the rest in another.",
                {"batch": f"{len(batch)} calls; at most {segment.MAX_BATCH_EVENTS}."},
            )
        sent_at = segment.parse_timestamp(data.get("sentAt"), "sentAt")
        return batch, sent_at


def _segment_view(event_type: str, summary: str, example: dict):
    request_serializer = (
        serializers.SegmentBatchSerializer if event_type == "batch" else serializers.SegmentEventSerializer
    )

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


# --- our own signed format ------------------------------------------------------------------------


def generic_source(request) -> Source:
    """Which source a signed delivery claims to come from: HTTP Basic write key, ``X-Source-Key``
    (the write key) or ``webhook-source`` (the source name). The claim alone proves nothing: the
    Standard Webhooks signature with that source's secret is always required."""
    if isinstance(request.auth, Source):
        return request.auth
    key = request.META.get("HTTP_X_SOURCE_KEY", "").strip()
    if key:
        source = source_for_write_key_cached(key)
    else:
        name = request.META.get("HTTP_WEBHOOK_SOURCE", "").strip()
        if not name:
            raise _unauthorized(
                "Name the source: HTTP Basic write key, X-Source-Key or webhook-source header.", field="webhook-source"
            )
        source = Source.objects.filter(name=name, active=True).first()
    if source is None or not source.signing_secret:
        raise _unauthorized("Unknown or inactive source.", field="webhook-source")
    return source


def verify_signature(source: Source, text: str, request) -> str:
    """Check the Standard Webhooks signature (5-minute tolerance); return the ``webhook-id``."""
    headers = {
        name: request.META.get("HTTP_" + name.upper().replace("-", "_"), "")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise _unauthorized(f"Missing {', '.join(missing)}.", field=missing[0])
    if len(headers["webhook-id"]) > 150:
        raise _unauthorized("webhook-id is too long (at most 150 characters).", field="webhook-id")
    try:
        Webhook(source.signing_secret).verify(text, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise _unauthorized(f"Signature refused: {exc}.", field="webhook-signature")
    except (ValueError, TypeError, UnicodeError):  # malformed signature or base64 (not the library's error)
        raise _unauthorized("Signature refused: malformed webhook-signature.", field="webhook-signature")
    return headers["webhook-id"]


class SignalsView(IngestView):
    endpoint = "/api/v1/signals"

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
        request=serializers.GenericSignalSerializer(many=True),
        parameters=[
            OpenApiParameter("webhook-id", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-timestamp", OpenApiTypes.INT, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-source", OpenApiTypes.STR, OpenApiParameter.HEADER),
            OpenApiParameter("X-Source-Key", OpenApiTypes.STR, OpenApiParameter.HEADER),
        ],
        responses={
            200: serializers.GenericResponseSerializer,
            400: OpenApiResponse(serializers.ErrorSerializer, description="Invalid JSON or fields."),
            401: OpenApiResponse(serializers.ErrorSerializer, description="Unknown source or bad signature."),
            413: OpenApiResponse(serializers.ErrorSerializer, description="Body over 2 MB."),
            415: OpenApiResponse(serializers.ErrorSerializer, description="Not JSON."),
            429: OpenApiResponse(serializers.ErrorSerializer, description="Over the source's rate limit."),
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
            body = read_body(request, max_bytes=MAX_GENERIC_BYTES)
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
            if len(data) > MAX_GENERIC_ITEMS:
                raise Refused(
                    400,
                    "too_many_signals",
                    f"At most {MAX_GENERIC_ITEMS} signals per request.",
                    {"body": f"{len(data)} items; at most {MAX_GENERIC_ITEMS}."},
                )
            return data, False
        raise Refused(
            400, "invalid_body", "Send a signal object or a list of them.", {"body": "Must be an object or list."}
        )


# --- CRM sync -------------------------------------------------------------------------------------


class CanSyncCrm(permissions.BasePermission):
    """CRM sync rewrites owners and values of any account: managers and staff only."""

    message = "Only managers and staff may sync the CRM."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or is_manager(user)))


def _flatten_list_errors(errors: object, prefix: str = "") -> dict[str, str]:
    """``[{}, {"owner": ["Unknown"]}]`` → ``{"1.owner": "Unknown"}``: each message under its path."""
    flat: dict[str, str] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = prefix if key in ("non_field_errors", "detail") else f"{prefix}{key}."
            flat.update(_flatten_list_errors(value, path))
    elif isinstance(errors, list):
        if errors and all(isinstance(e, str) for e in errors):
            flat[prefix.rstrip(".") or "body"] = " ".join(str(e) for e in errors)
        else:
            for index, value in enumerate(errors):
                if value:
                    flat.update(_flatten_list_errors(value, f"{prefix}{index}."))
    elif errors:
        flat[prefix.rstrip(".") or "body"] = str(errors)
    return flat


class CrmAccountsView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [CanSyncCrm]

    @extend_schema(
        operation_id="crm_accounts_sync",
        tags=["CRM sync"],
        summary="Upsert accounts (by domain) with their contacts, opportunities and contracts",
        description=(
            "Token auth (`Authorization: Token <token>`, from `manage.py create_api_token USERNAME`); "
            "managers and staff only. Accounts are upserted by `domain`, contacts by `email`, "
            "opportunities and contracts by `external_id`. Each changed account gets a `crm_updated` "
            "signal so analysis runs again. The whole request is validated before anything is stored."
        ),
        request=serializers.CrmAccountSerializer(many=True),
        responses={
            200: serializers.CrmSyncResponseSerializer,
            400: OpenApiResponse(serializers.ErrorSerializer, description="Invalid fields, by index and field."),
            401: OpenApiResponse(serializers.ErrorSerializer, description="No or wrong token."),
            403: OpenApiResponse(serializers.ErrorSerializer, description="Not a manager or staff."),
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            data = request.data
        except ParseError as exc:
            raise DomainError("The body is not valid JSON.", code="invalid_json", fields={"body": str(exc.detail)})
        except UnsupportedMediaType:
            raise DomainError(
                "Send JSON with Content-Type: application/json.",
                code="unsupported_media_type",
                fields={"Content-Type": request.content_type[:60]},
                status_code=415,
            )
        if isinstance(data, dict) and "accounts" in data:
            data = data["accounts"]
        if isinstance(data, dict):
            data = [data]
        serializer = serializers.CrmAccountSerializer(
            data=data, many=True, allow_empty=False, max_length=serializers.MAX_CRM_ACCOUNTS
        )
        if not serializer.is_valid():
            raise DomainError(
                "The request has invalid fields.", code="invalid", fields=_flatten_list_errors(serializer.errors)
            )
        result = crm_sync_accounts(records=serializer.validated_data, actor=request.user)
        return Response(
            {
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "accounts": [
                    {"id": a.id, "domain": a.domain, "created": a.created, "changed": a.changed}
                    for a in result.accounts
                ],
            }
        )
