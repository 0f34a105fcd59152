"""Shapes of the recommendations API (DESIGN.md §4): output serializers shape, input ones validate;
none of them writes (the review services do)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recommendations.models import Evidence, Recommendation, Review
from recommendations.services.review import SUBJECT_LINE_BREAK
from salesai.text import has_line_break
from signals.serializers import ErrorSerializer


class AccountBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()


class ContactBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    title = serializers.CharField()


class EvidenceSerializer(serializers.ModelSerializer):
    signal_id = serializers.IntegerField(allow_null=True, help_text="The stored signal, when the fact is one.")
    fact = serializers.SerializerMethodField(help_text='A named record instead of a signal, e.g. "contract:3".')

    class Meta:
        model = Evidence
        fields = ["statement", "signal_id", "kind", "occurred_at", "fact"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_fact(self, obj: Evidence) -> str | None:
        return f"{obj.fact_type}:{obj.fact_id}" if obj.fact_type else None


class DraftSerializer(serializers.Serializer):
    subject = serializers.CharField(allow_blank=True, max_length=300)
    body = serializers.CharField(allow_blank=True)


class TrustSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["review", "autonomous"])
    reasons = serializers.ListField(child=serializers.CharField())


class RecommendationSerializer(serializers.ModelSerializer):
    account = AccountBriefSerializer()
    contact = ContactBriefSerializer(allow_null=True)
    evidence = EvidenceSerializer(many=True)
    draft = serializers.SerializerMethodField()
    trust = serializers.SerializerMethodField()

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "account",
            "contact",
            "action_type",
            "playbook",
            "title",
            "status",
            "priority",
            "confidence",
            "confidence_note",
            "reasoning",
            "rationale",
            "why_now",
            "counterfactual",
            "evidence",
            "draft",
            "trust",
            "stakes",
            "expires_at",
            "snoozed_until",
            "scheduled_for",
            "held_until",
            "held_reason",
            "closed_reason",
            "version",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(DraftSerializer)
    def get_draft(self, obj: Recommendation) -> dict:
        return {"subject": obj.draft_subject, "body": obj.draft_body}

    @extend_schema_field(TrustSerializer)
    def get_trust(self, obj: Recommendation) -> dict:
        decision = obj.trust_decision
        if decision is None:
            return {"decision": "review", "reasons": []}
        return {"decision": decision.verdict, "reasons": list(decision.reasons or [])}


class ApproveSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1,
        help_text="The recommendation's `version` the person saw: a stale one answers 409 and approves nothing.",
        error_messages={
            "required": "Approve carries the version you saw (the recommendation's `version` field).",
        },
    )
    draft = DraftSerializer(required=False, help_text="The edited draft, when the rep changed it.")
    subject = serializers.CharField(
        required=False, allow_blank=False, max_length=300, help_text="Edited subject (one line)."
    )
    body = serializers.CharField(required=False, allow_blank=False, help_text="Edited body.")

    def validate(self, attrs: dict) -> dict:
        draft = attrs.pop("draft", None) or {}
        subject = attrs.get("subject", draft.get("subject")) or None
        if subject is not None and has_line_break(subject.strip()):
            raise serializers.ValidationError({"subject": SUBJECT_LINE_BREAK})
        return {"version": attrs["version"], "subject": subject, "body": attrs.get("body", draft.get("body")) or None}


class StaleVersionSerializer(ErrorSerializer):
    """409 on approve: the error, and the recommendation as it is now (to show the person instead)."""

    recommendation = RecommendationSerializer()


class RejectSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Review.RejectReason.choices)
    reason_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class SnoozeSerializer(serializers.Serializer):
    until = serializers.DateTimeField(help_text="When it comes back to the inbox (ISO-8601).")


class TimelineItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    contact = ContactBriefSerializer(allow_null=True)
    intent = serializers.CharField()
    sentiment = serializers.FloatField(allow_null=True)
    is_auto_reply = serializers.BooleanField()
    properties = serializers.DictField(source="properties_shown")


class ScoresSerializer(serializers.Serializer):
    engagement = serializers.FloatField()
    intent = serializers.FloatField()
    risk = serializers.FloatField()


class PictureSerializer(serializers.Serializer):
    account = AccountBriefSerializer()
    features = serializers.DictField(
        help_text="Windowed counts, last reply, unanswered outreach, renewal, suppressed contacts …"
    )
    scores = ScoresSerializer()
    version = serializers.IntegerField()
    analyzed_at = serializers.DateTimeField(allow_null=True)
    next_check_at = serializers.DateTimeField(allow_null=True)
    open_recommendations = serializers.ListField(child=serializers.DictField())
    timeline = TimelineItemSerializer(many=True)
