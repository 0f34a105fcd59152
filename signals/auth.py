"""The one write-key authenticator: HTTP Basic with a source's write key as user name (password
ignored), as Segment's SDKs send it.

The Segment endpoints, the signed endpoint and the inbound e-mail endpoint all read credentials
here, so one header gets one answer everywhere; each doorway keeps its own rule of which kinds of
source it opens to and how it words a refusal.
"""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest

from signals.models import Source
from signals.sources import source_for_write_key


class WriteKeyRefused(Exception):
    """Basic credentials that cannot open anything: ``malformed`` (not base64 of UTF-8) or
    ``unknown`` (no active source has this write key)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def basic_write_key(request: HttpRequest) -> str | None:
    """The write key of the request's HTTP Basic credentials: the user name, stripped. None when no
    Basic credentials are presented (no ``Authorization`` header, another scheme, an empty user name):
    the doorway may then look for the key elsewhere. Raises ``WriteKeyRefused("malformed")``."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise WriteKeyRefused("malformed", "Malformed HTTP Basic credentials.")
    return decoded.partition(":")[0].strip() or None


def authenticate_write_key(request: HttpRequest) -> Source | None:
    """The active source whose write key the request presents with HTTP Basic; None when it presents
    none. Raises ``WriteKeyRefused`` for malformed credentials or a key no active source has."""
    key = basic_write_key(request)
    if key is None:
        return None
    source = source_for_write_key(key)
    if source is None:
        raise WriteKeyRefused("unknown", "Unknown or inactive write key.")
    return source
