"""Writing to the audit trail. Call inside the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent

#: Keys whose values never reach the trail, compared exactly (case-insensitive, ``-`` read as ``_``).
#: Exact names, not fragments: ``dedupe_key`` and ``idempotency_key`` are what an investigator looks
#: for, while a fragment such as "key" in any name hid them as ``***``.
SECRET_NAMES = frozenset(
    {
        "access_token",
        "api_key",
        "api_token",
        "authorization",
        "client_secret",
        "password",
        "private_key",
        "refresh_token",
        "secret",
        "secret_key",
        "signature",
        "signing_key",
        "signing_secret",
        "token",
        "webhook_secret",
        "write_key",
    }
)
MASK = "***"


def is_secret_name(key: object) -> bool:
    return str(key).lower().replace("-", "_") in SECRET_NAMES


def mask_secrets(data: Any) -> Any:
    """``data`` with the value of every secret-named key replaced by ``***``, in nested dicts and lists too."""
    if isinstance(data, dict):
        return {k: MASK if is_secret_name(k) else mask_secrets(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [mask_secrets(v) for v in data]
    return data


def audit_record(*, action: str, actor=None, reference: str = "", data: dict | None = None) -> AuditEvent:
    """Append one event. ``actor`` is a user or None for the system; secrets in ``data`` are masked."""
    label = "system" if actor is None else getattr(actor, "get_username", lambda: str(actor))()
    return AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=label,
        reference=reference,
        data=mask_secrets(data or {}),
    )
