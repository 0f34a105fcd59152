"""Shapes of the CRM sync: the serializers validate the whole request before anything is stored."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from accounts.models import Account, Contract, Opportunity
from signals.identity.domains import registrable_domain

MAX_DEAL_CONTACTS = 100


class CrmContactSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    do_not_contact = serializers.BooleanField(required=False)
    do_not_contact_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Why. Example: Left the company"
    )


class CrmOpportunitySerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=200)
    name = serializers.CharField(required=False, max_length=200)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    stage = serializers.ChoiceField(choices=Opportunity.Stage.choices, required=False)
    close_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(
        choices=Opportunity.Status.choices, required=False, help_text="open, won or lost. Example: open"
    )
    stage_changed_at = serializers.DateTimeField(
        required=False,
        help_text="When the deal entered its current stage (ISO 8601); when absent, salesai records the first "
        "time it saw the stage.",
    )
    contacts = serializers.ListField(
        child=serializers.EmailField(max_length=254),
        required=False,
        max_length=MAX_DEAL_CONTACTS,
        help_text="E-mails of the people involved; only people of this account (or at its domain) are linked.",
    )

    def validate(self, attrs: dict) -> dict:
        stage = attrs.get("stage")
        if "status" not in attrs and stage in (Opportunity.Stage.WON, Opportunity.Stage.LOST):
            attrs["status"] = stage  # a closed stage says the result when the CRM sends no status
        return attrs


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
        domain = registrable_domain(value)
        if domain is None and Account.objects.filter(domain=value.strip().lower()).exists():
            return value.strip().lower()  # an account salesai knows already (e.g. an internal test domain)
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


def flatten_errors(errors: object, prefix: str = "") -> dict[str, str]:
    """``[{}, {"owner": ["Unknown"]}]`` → ``{"1.owner": "Unknown"}``: each message under its path."""
    flat: dict[str, str] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = prefix if key in ("non_field_errors", "detail") else f"{prefix}{key}."
            flat.update(flatten_errors(value, path))
    elif isinstance(errors, list):
        if errors and all(isinstance(e, str) for e in errors):
            flat[prefix.rstrip(".") or "body"] = " ".join(str(e) for e in errors)
        else:
            for index, value in enumerate(errors):
                if value:
                    flat.update(flatten_errors(value, f"{prefix}{index}."))
    elif errors:
        flat[prefix.rstrip(".") or "body"] = str(errors)
    return flat
