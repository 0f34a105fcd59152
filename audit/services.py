"""Writing to the audit trail. Call inside the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent

_SECRET_WORDS = ("secret", "password", "token", "key", "signature")


def _mask(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: ("***" if any(word in str(k).lower() for word in _SECRET_WORDS) else _mask(v)) for k, v in data.items()
        }
    if isinstance(data, list):
        return [_mask(v) for v in data]
    return data


def audit_record(*, action: str, actor=None, reference: str = "", data: dict | None = None) -> AuditEvent:
    """Append one event. ``actor`` is a user or None for the system; secrets in ``data`` are masked."""
    label = "system" if actor is None else getattr(actor, "get_username", lambda: str(actor))()
    return AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=label,
        reference=reference,
        data=_mask(data or {}),
    )
