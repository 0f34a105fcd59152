"""``POST /api/v1/inbound/email`` (DESIGN.md §4): inbound e-mail from SendGrid Inbound Parse,
Mailgun routes or raw MIME; a thin doorway to ``signals.inbound.service.receive_inbound_email``.

Authenticates (HTTP Basic with an e-mail source's write key, ``signals.auth``; or Mailgun's HMAC
signature), reads the provider's fields, and answers only after the transaction committed, so an
accepted e-mail is never lost.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from salesai import clock
from salesai.api_errors import error_response
from signals.auth import WriteKeyRefused, authenticate_write_key
from signals.inbound.message import InboundError, external_id_for, no_nul, parse_raw_mime
from signals.inbound.providers import (
    SIGNATURE_TOLERANCE,
    check_mailgun,
    mailgun_signing_key,
    parse_mailgun,
    parse_sendgrid,
)
from signals.inbound.service import receive_inbound_email
from signals.models import QuarantinedPayload, Signal, Source
from signals.sources import mailgun_source
from signals.throttling import limit_for, seconds_until_allowed

ENDPOINT = "api/v1/inbound/email"


def check_replay(*, source: Source, token: str, external_id: str) -> Signal | None:
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


# How this doorway words a write key ``signals.auth`` refused: its error code and a hint.
_REFUSED_KEYS = {
    "malformed": ("not_authenticated", "Not base64 of 'user:password'."),
    "unknown": ("invalid_write_key", "The user name must be an active source's write key."),
}


def _email_source(request: HttpRequest) -> Source | None:
    """The e-mail source the request's HTTP Basic credentials name (``signals.auth``, the same answer
    as every doorway's); None when it presents none."""
    try:
        source = authenticate_write_key(request)
    except WriteKeyRefused as refused:
        code, hint = _REFUSED_KEYS[refused.reason]
        raise InboundError(refused.message, code=code, fields={"Authorization": hint}, status_code=401) from refused
    if source is not None and source.kind != Source.Kind.EMAIL:
        raise InboundError(
            f"The source '{source.name}' is not an inbound e-mail source.",
            code="wrong_source_kind",
            fields={"Authorization": "Use the write key of a source of kind 'email'."},
            status_code=403,
        )
    return source


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
        source = _email_source(request)
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
            sent_at = check_mailgun(request.POST)
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
        earlier = check_replay(source=source, token=email.event_id, external_id=external_id_for(email))
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
