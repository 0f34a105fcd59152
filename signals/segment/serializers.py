"""Shapes of the Segment HTTP Tracking API for the OpenAPI schema.

The endpoints validate with ``signals.segment.dialect`` (plain functions that run per call on the hot
path and report errors by batch index); these serializers describe what they accept and answer.
"""

from __future__ import annotations

from rest_framework import serializers

from signals.segment.dialect import EVENT_TYPES, MAX_ID_LENGTH
from signals.serializers import ItemErrorSerializer


class SegmentEventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=list(EVENT_TYPES),
        required=False,
        help_text="Required inside a batch; implied by the endpoint otherwise.",
    )
    messageId = serializers.CharField(required=False, max_length=MAX_ID_LENGTH, help_text="Dedupes per source.")
    userId = serializers.CharField(required=False, max_length=MAX_ID_LENGTH)
    anonymousId = serializers.CharField(required=False, max_length=MAX_ID_LENGTH)
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
