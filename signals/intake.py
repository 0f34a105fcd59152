"""What every source-authenticated doorway does with a request before a service sees it.

Authenticate the source (``signals.auth``), read the body within limits (gzip capped against zip
bombs), parse strict JSON, and refuse in the error shape of DESIGN.md §4. Anything refused for its
*content* from an authenticated source is kept in ``QuarantinedPayload``; auth failures are not
(nobody vouched for them).
"""

from __future__ import annotations

import json
import re
import zlib

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.views import APIView

from salesai.api_errors import DomainError
from signals.auth import WriteKeyRefused, authenticate_write_key
from signals.models import Source
from signals.serializers import ErrorSerializer
from signals.storing import refused

_SUSPICIOUS_ESCAPES = re.compile(r"\\u(0000|[dD][89a-fA-F])")


class Refused(DomainError):
    """A refusal raised while reading a request; ``quarantine`` says whether it was for content."""

    def __init__(self, status_code: int, code: str, message: str, fields: dict | None = None, *, content=True):
        super().__init__(message, code=code, fields=fields, status_code=status_code)
        self.content = content


def error_responses(descriptions: dict[int, str]) -> dict[int, OpenApiResponse]:
    """The schema's refusals of an endpoint: each status with the error shape and what it means."""
    return {
        status_code: OpenApiResponse(ErrorSerializer, description=text) for status_code, text in descriptions.items()
    }


def unauthorized(message: str, field: str = "Authorization") -> Refused:
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


def require_json_content_type(request, *, also_text_plain: bool = False) -> None:
    """JSON only; ``also_text_plain`` for browser endpoints, where analytics.js sends its JSON as
    ``text/plain`` (a "simple" cross-origin request needs no CORS preflight). The body is parsed as
    JSON either way."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if not content_type or content_type == "application/json" or content_type.endswith("+json"):
        return
    if also_text_plain and content_type == "text/plain":
        return
    expected = "application/json or text/plain" if also_text_plain else "application/json"
    raise Refused(
        415,
        "unsupported_media_type",
        f"Send JSON with Content-Type: {expected}.",
        {"Content-Type": f"Must be {expected}, not {content_type[:60]}."},
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
    except RecursionError:
        # how deep the parser can go depends on the caller's stack: name the real problem either way
        raise Refused(400, "too_deep", "The body is nested too deeply to read.", {"body": "Nested too deeply."})
    except ValueError as exc:
        raise Refused(400, "invalid_json", "The body is not valid JSON.", {"body": str(exc)[:200]})
    if _SUSPICIOUS_ESCAPES.search(text):
        check_storable(data, "body")
    return data


def check_storable(value: object, path: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise Refused(400, "invalid_json", "Strings may not contain NUL characters.", {path: "Contains \\u0000."})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused(400, "invalid_json", "Strings may not contain lone surrogates.", {path: "Invalid text."})
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, path)
            check_storable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}.{index}")


class WriteKeyAuthentication(BaseAuthentication):
    """DRF's face of ``signals.auth``: ``request.auth`` becomes the Source named by HTTP Basic; no
    Basic credentials mean "not this way" (the views then look for ``writeKey`` in the body, an
    ``X-Source-Key`` or a ``webhook-source`` header); malformed or unknown ones are a 401."""

    def authenticate(self, request):
        try:
            source = authenticate_write_key(request._request)
        except WriteKeyRefused as refused:
            raise unauthorized(refused.message)
        return None if source is None else (AnonymousUser(), source)

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
    """Base of the source-authenticated endpoints: no session, no CSRF, no DRF auth classes but the
    write key (the source is the credential), and quarantine of refused content."""

    authentication_classes = [WriteKeyAuthentication]
    permission_classes: list = []
    throttle_classes: list = []
    endpoint = ""

    def handle_refusal(self, exc: Refused, *, source: Source | None, body: bytes | str | object) -> None:
        if exc.content and source is not None:
            refused(
                source=source, endpoint=self.endpoint, error_code=exc.code, errors=exc.fields, payload=body or b""
            ).save()
        raise exc
