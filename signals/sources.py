"""Sources: who may send signals, with which credentials. Write keys are shown once and stored only as
a SHA-256 hash. Creating a source, rotating its key, changing or deactivating it are services that
write their audit row in the same transaction (the admin and ``create_source`` call them).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from django.db import transaction

from audit.services import audit_record
from signals.models import Source

INTERNAL_SOURCE_NAME = "salesai"
CRM_SOURCE_NAME = "crm"
MAILGUN_SOURCE_NAME = "mailgun-inbound"
#: What the admin may change on a source after creation (credentials change only by rotation).
EDITABLE_FIELDS = (
    "name",
    "kind",
    "trusted_traits",
    "event_map",
    "rate_limit_per_minute",
    "accounts_per_hour",
    "active",
)


def hash_write_key(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _new_write_key() -> str:
    return f"sk_{secrets.token_urlsafe(24)}"


@transaction.atomic
def create_source(
    *,
    name: str,
    kind: str,
    event_map: dict | None = None,
    trusted_traits: bool = False,
    rate_limit_per_minute: int | None = None,
    accounts_per_hour: int | None = None,
    active: bool = True,
    actor=None,
) -> tuple[Source, str]:
    """Create a source and return it with its write key (the only time the key exists in clear)."""
    write_key = _new_write_key()
    source = Source.objects.create(
        name=name,
        kind=kind,
        write_key_hash=hash_write_key(write_key),
        write_key_prefix=write_key[:10],
        signing_secret=new_signing_secret(),
        event_map=event_map or {},
        trusted_traits=trusted_traits,
        rate_limit_per_minute=rate_limit_per_minute,
        accounts_per_hour=accounts_per_hour,
        active=active,
    )
    audit_record(
        action="source.created",
        actor=actor,
        reference=f"source:{source.pk}",
        data={"name": source.name, "kind": source.kind, "prefix": source.write_key_prefix, **_settings_of(source)},
    )
    return source, write_key


@transaction.atomic
def rotate_write_key(*, source: Source, actor=None) -> str:
    """Give a source a new write key (the old one stops working at once); returns it, shown once."""
    write_key = _new_write_key()
    previous = source.write_key_prefix
    source.write_key_hash = hash_write_key(write_key)
    source.write_key_prefix = write_key[:10]
    source.save(update_fields=["write_key_hash", "write_key_prefix"])
    audit_record(
        action="source.write_key_rotated",
        actor=actor,
        reference=f"source:{source.pk}",
        data={"name": source.name, "previous_prefix": previous, "prefix": source.write_key_prefix},
    )
    return write_key


@transaction.atomic
def deactivate_source(*, source: Source, actor=None) -> bool:
    """Refuse the source's write key from now on; False when it was inactive already."""
    if not Source.objects.filter(pk=source.pk, active=True).update(active=False):
        return False
    source.active = False
    forget_source(source.pk)
    audit_record(action="source.deactivated", actor=actor, reference=f"source:{source.pk}", data={"name": source.name})
    return True


@transaction.atomic
def update_source(*, source: Source, values: dict, actor=None) -> list[str]:
    """Change a source's settings (``EDITABLE_FIELDS``); returns the names of the fields that changed,
    recorded with their old and new values."""
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}.")
    stored = Source.objects.select_for_update().get(pk=source.pk)
    changes = {name: [getattr(stored, name), value] for name, value in values.items() if getattr(stored, name) != value}
    if not changes:
        return []
    for name, (_, value) in changes.items():
        setattr(source, name, value)
    source.save(update_fields=list(changes))
    audit_record(action="source.updated", actor=actor, reference=f"source:{source.pk}", data={"changes": changes})
    return sorted(changes)


def _settings_of(source: Source) -> dict:
    return {
        "trusted_traits": source.trusted_traits,
        "rate_limit_per_minute": source.rate_limit_per_minute,
        "accounts_per_hour": source.accounts_per_hour,
        "active": source.active,
        "event_map": source.event_map,
    }


def system_source(*, name: str, kind: str, active: bool = False) -> Source:
    """A source of salesai's own making (its e-mails, CRM changes, a provider's signed posts): no write
    key is ever shown for it, so none reaches it from outside."""
    source, _ = Source.objects.get_or_create(
        name=name,
        defaults={"kind": kind, "write_key_hash": hash_write_key(secrets.token_urlsafe(32)), "active": active},
    )
    return source


def internal_source() -> Source:
    """The source for what salesai itself does (e-mails it sent, CRM changes it made)."""
    return system_source(name=INTERNAL_SOURCE_NAME, kind=Source.Kind.INTERNAL)


def crm_source() -> Source:
    """The source of CRM changes (API and ``import_crm``)."""
    return system_source(name=CRM_SOURCE_NAME, kind=Source.Kind.CRM)


def mailgun_source() -> Source:
    """The e-mail source Mailgun deliveries are stored under when they authenticate by signature only."""
    return system_source(name=MAILGUN_SOURCE_NAME, kind=Source.Kind.EMAIL, active=True)


def anymail_source(esp_name: str) -> Source:
    """The e-mail source of messages from django-anymail's own inbound views for ``esp_name``."""
    return system_source(name=f"anymail-{esp_name.lower()}"[:100], kind=Source.Kind.EMAIL, active=True)


# --- the write-key lookup ---------------------------------------------------------------------------------

_CACHE_SECONDS = 5.0
_recent: dict[str, tuple[float, Source]] = {}


def source_for_write_key(write_key: str | None) -> Source | None:
    """The active source this write key belongs to, or None (constant-time compare on the hash).

    Remembered for 5 seconds per process, so the ingestion hot path skips a query per request. A
    change to the source in this process forgets it at once (``signals.receivers``); one in another
    process is seen within the 5 s. Unknown keys are never remembered."""
    if not write_key:
        return None
    digest = hash_write_key(write_key)
    now = time.monotonic()
    hit = _recent.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    source = Source.objects.filter(write_key_hash=digest, active=True).first()
    if source is None or not hmac.compare_digest(source.write_key_hash, digest):
        _recent.pop(digest, None)
        return None
    if len(_recent) > 1000:
        _recent.clear()
    _recent[digest] = (now + _CACHE_SECONDS, source)
    return source


def forget_source(source_id: int | None = None) -> None:
    """Forget the remembered keys of one source (all of them when None)."""
    if source_id is None:
        _recent.clear()
        return
    for digest in [d for d, (_, source) in _recent.items() if source.pk == source_id]:
        _recent.pop(digest, None)
