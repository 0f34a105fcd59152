"""The error shapes every ingestion endpoint answers with (DESIGN.md §4), for the OpenAPI schema."""

from __future__ import annotations

from rest_framework import serializers

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
