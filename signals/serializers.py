"""Shapes of the ingestion APIs.

The Segment and signed-signal endpoints validate with the plain functions of ``signals.segment`` and
``signals.services.parse_generic_item`` (they run per event on the hot path, and report errors by
batch index); the serializers here describe those shapes for the OpenAPI schema. The CRM sync
endpoint validates with its serializers.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from accounts.models import Account, Contract, Opportunity
from signals.models import Signal

# --- the one error shape (DESIGN.md §4) -----------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason. Example: invalid_json")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.JSONField(), help_text='What was wrong, by field. Example: {"batch.3.event": "Required."}'
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the refused item in the request.")
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField())


# --- Segment HTTP Tracking API --------------------------------------------------------------------


class SegmentEventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["track", "page", "screen", "identify", "group", "alias"],
        required=False,
        help_text="Required inside a batch; implied by the endpoint otherwise.",
    )
    messageId = serializers.CharField(required=False, max_length=200, help_text="Dedupes per source.")
    userId = serializers.CharField(required=False, max_length=200)
    anonymousId = serializers.CharField(required=False, max_length=200)
    event = serializers.CharField(required=False, help_text="track: the event name, e.g. Demo Requested.")
    name = serializers.CharField(required=False, help_text="page/screen: the page name.")
    groupId = serializers.CharField(required=False, help_text="group: the company's id in your product.")
    previousId = serializers.CharField(required=False, help_text="alias: the previous id.")
    properties = serializers.DictField(required=False)
    traits = serializers.DictField(required=False, help_text="identify/group traits (email, name, title, website …).")
    context = serializers.DictField(required=False)
    timestamp = serializers.DateTimeField(required=False, help_text="When it happened (ISO-8601).")
    originalTimestamp = serializers.DateTimeField(required=False)
    sentAt = serializers.DateTimeField(required=False, help_text="When the client sent it; corrects clock skew.")
    writeKey = serializers.CharField(required=False, help_text="Alternative to HTTP Basic auth.")


class SegmentBatchSerializer(serializers.Serializer):
    batch = SegmentEventSerializer(many=True)
    sentAt = serializers.DateTimeField(required=False)
    writeKey = serializers.CharField(required=False)


class SegmentResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    stored = serializers.IntegerField(help_text="New signals stored by this request.")
    duplicates = serializers.IntegerField(help_text="Calls whose messageId was already stored.")
    errors = ItemErrorSerializer(many=True, help_text="Refused calls of a batch, by index (also quarantined).")


# --- our own signed signals -----------------------------------------------------------------------


class GenericSignalSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Signal.Kind.choices)
    occurred_at = serializers.DateTimeField(help_text="When it happened (ISO-8601).")
    external_id = serializers.CharField(
        required=False, max_length=200, help_text="Your id; dedupes per source. Alias: id. Default: webhook-id[:index]."
    )
    name = serializers.CharField(required=False, max_length=200)
    account_domain = serializers.CharField(required=False, help_text="Example: acme.com")
    contact_email = serializers.EmailField(required=False)
    user_id = serializers.CharField(required=False, max_length=200)
    anonymous_id = serializers.CharField(required=False, max_length=200)
    properties = serializers.DictField(required=False)


class GenericResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    replayed = serializers.BooleanField(help_text="True when this webhook-id was stored before: nothing new stored.")
    errors = ItemErrorSerializer(many=True)


# --- CRM sync -------------------------------------------------------------------------------------


class CrmContactSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    do_not_contact = serializers.BooleanField(required=False)


class CrmOpportunitySerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    name = serializers.CharField(required=False, max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    stage = serializers.ChoiceField(choices=Opportunity.Stage.choices, required=False)
    close_date = serializers.DateField(required=False, allow_null=True)


class CrmContractSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    renewal_date = serializers.DateField()
    start_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=Contract.Status.choices, required=False)


class CrmAccountSerializer(serializers.Serializer):
    domain = serializers.CharField(max_length=253, help_text="Registrable domain; the natural key. Example: acme.com")
    name = serializers.CharField(required=False, max_length=200)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
        help_text="The owning rep's user name.",
    )
    segment = serializers.ChoiceField(choices=Account.Segment.choices, required=False)
    arr = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    strategic = serializers.BooleanField(required=False)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    contacts = CrmContactSerializer(many=True, required=False, max_length=1000)
    opportunities = CrmOpportunitySerializer(many=True, required=False, max_length=1000)
    contracts = CrmContractSerializer(many=True, required=False, max_length=1000)

    def validate_domain(self, value: str) -> str:
        from signals.identity import registrable_domain

        domain = registrable_domain(value)
        if domain is None:
            raise serializers.ValidationError("Not a registrable domain (example: acme.com).")
        return domain


MAX_CRM_ACCOUNTS = 1000


class CrmAccountResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    domain = serializers.CharField()
    created = serializers.BooleanField()
    changed = serializers.ListField(child=serializers.CharField(), help_text="What changed, e.g. arr, contracts.")


class CrmSyncResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    accounts = CrmAccountResultSerializer(many=True)
