"""Our own signal format (``POST /api/v1/signals``): one table of its fields, from which both the
validator that runs and the OpenAPI schema are made, so the two cannot drift apart.

The validator is a plain function (it runs per item on the hot path and reports errors by index);
the serializer exists only to describe the same fields in the schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import serializers

from salesai.text import single_line
from signals.identity.domains import normalise_email, registrable_domain
from signals.models import Signal
from signals.segment.dialect import EventError, check_depth, parse_timestamp
from signals.serializers import ItemErrorSerializer

MAX_ITEMS = 1000
KINDS = frozenset(Signal.Kind.values)
WHO_FIELDS = ("account_domain", "contact_email", "user_id", "anonymous_id")


@dataclass(frozen=True)
class FormatField:
    """One field of a signal: ``text`` (a string, stripped), ``line`` (a string made one line),
    ``domain`` (a registrable domain), ``email``, ``kind``, ``datetime`` or ``object``."""

    name: str
    type: str
    help: str = ""
    required: bool = False
    max_length: int | None = None


FIELDS: tuple[FormatField, ...] = (
    FormatField("kind", "kind", "What happened: one of the signal kinds.", required=True),
    FormatField("occurred_at", "datetime", "When it happened (ISO-8601).", required=True),
    FormatField("name", "line", "The event's name as you call it. Example: Demo Requested", max_length=200),
    FormatField("account_domain", "domain", "The company's domain. Example: acme.com", max_length=253),
    FormatField("contact_email", "email", "The person's e-mail address.", max_length=254),
    FormatField("user_id", "text", "The person's id in your product.", max_length=200),
    FormatField("anonymous_id", "text", "The visitor's anonymous id.", max_length=200),
    FormatField(
        "external_id", "text", "Your id; dedupes per source. Alias: id. Default: webhook-id[:index].", max_length=200
    ),
    FormatField("id", "text", "Alias of external_id.", max_length=200),
    FormatField("properties", "object", "Anything else, as a JSON object."),
    FormatField(
        "message_id",
        "text",
        "An outreach e-mail's RFC 5322 Message-ID (kind email_sent; else properties.message_id), so replies "
        "thread to it.",
        max_length=500,
    ),
)


def parse_generic_item(raw: object, *, webhook_id: str, index: int | None) -> dict:
    """Validate one item of ``POST /api/v1/signals``; raises ``EventError`` naming the field.
    Returns every field of ``FIELDS`` (``id`` folded into ``external_id``, which defaults to the
    delivery's ``webhook-id``, with ``:index`` in a list)."""
    if not isinstance(raw, dict):
        raise EventError("invalid_signal", "Each signal must be a JSON object.", {"": "Must be a JSON object."})
    values = {spec.name: _field_value(spec, raw) for spec in FIELDS}  # the first error in the table's order
    if values["account_domain"]:
        domain = registrable_domain(values["account_domain"])
        if domain is None:
            raise EventError(
                "invalid_field", "account_domain is not a domain.", {"account_domain": "Not a registrable domain."}
            )
        values["account_domain"] = domain
    if values["contact_email"]:
        email = normalise_email(values["contact_email"])
        if email is None:
            raise EventError("invalid_field", "contact_email is not an e-mail address.", {"contact_email": "Invalid."})
        values["contact_email"] = email
    if not any(values[name] for name in WHO_FIELDS):
        message = "One of account_domain, contact_email, user_id or anonymous_id is required."
        raise EventError("missing_field", message, {"account_domain": message})
    own_id = values.pop("external_id") or values.pop("id")
    values.pop("id", None)
    values["external_id"] = own_id or (webhook_id if index is None else f"{webhook_id}:{index}")
    return values


def _field_value(spec: FormatField, raw: dict) -> object:
    """One field's validated value ("" or ``{}`` when absent and optional)."""
    value = raw.get(spec.name)
    if spec.type == "kind":
        if not isinstance(value, str) or value not in KINDS:
            raise EventError(
                "invalid_field" if value else "missing_field",
                "kind must be one of the signal kinds.",
                {"kind": f"One of: {', '.join(sorted(KINDS))}." if value else "This field is required."},
            )
        return value
    if spec.type == "datetime":
        parsed = parse_timestamp(value, spec.name)
        if parsed is None:
            raise EventError("missing_field", f"{spec.name} is required.", {spec.name: "This field is required."})
        return parsed
    if spec.type == "object":
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise EventError("invalid_field", f"{spec.name} must be an object.", {spec.name: "Must be a JSON object."})
        check_depth(value, spec.name)
        return value
    if spec.name == "message_id" and "message_id" not in raw and raw.get("kind") == Signal.Kind.EMAIL_SENT:
        properties = raw.get("properties")
        value = properties.get("message_id") if isinstance(properties, dict) else None
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise EventError("invalid_field", f"{spec.name} must be a string.", {spec.name: "Must be a string."})
    if len(value) > spec.max_length:
        raise EventError(
            "invalid_field", f"{spec.name} is too long.", {spec.name: f"At most {spec.max_length} characters."}
        )
    return single_line(value) if spec.type == "line" else value.strip()


_SCHEMA_FIELDS = {
    "kind": lambda spec: serializers.ChoiceField(choices=Signal.Kind.choices, help_text=spec.help),
    "datetime": lambda spec: serializers.DateTimeField(help_text=spec.help),
    "object": lambda spec: serializers.DictField(required=False, help_text=spec.help),
    "email": lambda spec: serializers.EmailField(required=False, max_length=spec.max_length, help_text=spec.help),
}


def _schema_field(spec: FormatField) -> serializers.Field:
    make = _SCHEMA_FIELDS.get(spec.type)
    if make is not None:
        return make(spec)
    return serializers.CharField(required=spec.required, max_length=spec.max_length, help_text=spec.help)


#: The signal as the OpenAPI schema shows it, made from ``FIELDS`` (never used to validate).
GenericSignalSerializer = type(
    "GenericSignalSerializer",
    (serializers.Serializer,),
    {
        **{spec.name: _schema_field(spec) for spec in FIELDS},
        "__doc__": "One signal of our own format. Besides the required fields, name who it is about: "
        + ", ".join(WHO_FIELDS[:-1])
        + f" or {WHO_FIELDS[-1]}.",
    },
)


class GenericResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    replayed = serializers.BooleanField(help_text="True when this webhook-id was stored before: nothing new stored.")
    errors = ItemErrorSerializer(many=True)
