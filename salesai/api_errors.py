"""The one error shape of DESIGN.md §4: ``{"error": {"code", "message", "fields"}}`` with a 4xx."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A refusal a caller can understand: maps to a 4xx with our error shape."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, status_code=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.fields = fields or {}


def error_body(code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(status_code: int, code: str, message: str, fields: dict | None = None, **headers) -> JsonResponse:
    """A plain Django JSON response in the error shape, for views outside DRF."""
    response = JsonResponse(error_body(code, message, fields), status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        flat = [_flatten(item) for item in detail]
        return flat[0] if len(flat) == 1 and isinstance(flat[0], str) else flat
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler answering every error in our shape."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    # DRF turns Django's Http404/PermissionDenied into its own exceptions; do it first so the code
    # in our body is "not_found"/"permission_denied" rather than a generic "error".
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten(detail)
        response.data = error_body("invalid", "The request has invalid fields.", fields)
    else:
        code = getattr(exc, "default_code", "error")
        detail = getattr(exc, "detail", str(exc))
        response.data = error_body(str(code), str(_flatten(detail)))
    return response
