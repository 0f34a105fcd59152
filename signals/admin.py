"""Admin for ingestion: sources (credentials shown once), signals, quarantine, identity overrides."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from signals.models import (
    AccountCreation,
    AnonymousIdentity,
    DomainRule,
    GroupIdentity,
    QuarantinedPayload,
    Signal,
    Source,
    WebhookDelivery,
)
from signals.segment.dialect import DEFAULT_EVENT_MAP
from signals.sources import EDITABLE_FIELDS, create_source, deactivate_source, rotate_write_key, update_source


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = ("name", "kind", "trusted_traits", "event_map", "rate_limit_per_minute", "accounts_per_hour", "active")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("trusted_traits") and cleaned.get("kind") not in (Source.Kind.SEGMENT, Source.Kind.GENERIC):
            self.add_error("trusted_traits", "Only a Segment or signed generic source sends traits to trust.")
        return cleaned

    def clean_event_map(self):
        event_map = self.cleaned_data.get("event_map") or {}
        if not isinstance(event_map, dict):
            raise forms.ValidationError('Must be an object. Example: {"Demo Requested": "form_submitted"}')
        kinds = set(Signal.Kind.values)
        wrong = {name: kind for name, kind in event_map.items() if kind not in kinds}
        if wrong:
            raise forms.ValidationError(
                f"Unknown kinds {sorted(map(str, wrong.values()))}; use one of {', '.join(sorted(kinds))}."
            )
        return event_map


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = (
        "name",
        "kind",
        "write_key_prefix",
        "active",
        "trusted_traits",
        "rate_limit_per_minute",
        "created_at",
    )
    list_filter = ("kind", "active", "trusted_traits")
    search_fields = ("name", "write_key_prefix")
    readonly_fields = ("write_key_prefix", "signing_secret_hint", "default_event_map", "created_at")
    actions = ["rotate_write_key", "deactivate"]
    fieldsets = (
        (None, {"fields": ("name", "kind", "active")}),
        ("Credentials", {"fields": ("write_key_prefix", "signing_secret_hint")}),
        ("Trust", {"fields": ("trusted_traits",)}),
        (
            "Advanced",
            {
                "classes": ("collapse",),
                "fields": ("event_map", "default_event_map", "rate_limit_per_minute", "accounts_per_hour"),
            },
        ),
    )

    @admin.display(description="Signing secret")
    def signing_secret_hint(self, obj: Source) -> str:
        return f"{obj.signing_secret[:10]}… (shown in full once, at creation)" if obj.signing_secret else "—"

    @admin.display(description="Default event names → kinds")
    def default_event_map(self, obj: Source | None):
        rows = format_html("".join("<li>{}: {}</li>" for _ in DEFAULT_EVENT_MAP), *_flat(DEFAULT_EVENT_MAP))
        return format_html("<ul>{}</ul><p>Unknown names are stored as <code>custom</code>.</p>", rows)

    def save_model(self, request, obj: Source, form, change: bool) -> None:
        """Through the audited services: a new source gets its credentials (shown once), an edited one
        records what changed."""
        values = {name: getattr(obj, name) for name in EDITABLE_FIELDS}
        if change:
            update_source(source=obj, values=values, actor=request.user)
            return
        source, write_key = create_source(**values, actor=request.user)
        obj.pk = source.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"Write key: {write_key} — signing secret: {source.signing_secret}. Copy them now: "
            "the write key is stored only as a hash and is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Rotate the write key (the old key stops working)")
    def rotate_write_key(self, request, queryset) -> None:
        for source in queryset:
            write_key = rotate_write_key(source=source, actor=request.user)
            self.message_user(request, f"{source.name}: new write key {write_key} (shown once).", messages.WARNING)

    @admin.action(description="Deactivate (refuse its write key)")
    def deactivate(self, request, queryset) -> None:
        updated = sum(deactivate_source(source=source, actor=request.user) for source in queryset)
        self.message_user(request, f"{updated} source(s) deactivated.")


def _flat(mapping: dict) -> list[str]:
    return [str(v) for pair in mapping.items() for v in pair]


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "kind", "name", "account", "contact", "source", "received_at", "analyzed_at")
    list_filter = ("kind", "source", ("analyzed_at", admin.EmptyFieldListFilter), "is_auto_reply", "is_bot", "intent")
    search_fields = ("external_id", "name", "account__domain", "contact__email", "user_id", "anonymous_id")
    list_select_related = ("account", "contact", "source")
    raw_id_fields = ("account", "contact", "in_reply_to")
    date_hierarchy = "occurred_at"
    readonly_fields = ("received_at", "analyzed_at")


@admin.register(QuarantinedPayload)
class QuarantinedPayloadAdmin(admin.ModelAdmin):
    list_display = ("received_at", "endpoint", "error_code", "source", "item_index")
    list_filter = ("endpoint", "error_code", "source")
    search_fields = ("payload", "error_code")
    list_select_related = ("source",)
    readonly_fields = ("source", "endpoint", "received_at", "error_code", "errors", "payload", "item_index")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(DomainRule)
class DomainRuleAdmin(admin.ModelAdmin):
    list_display = ("domain", "treatment", "note", "created_at")
    list_filter = ("treatment",)
    search_fields = ("domain", "note")


@admin.register(AnonymousIdentity)
class AnonymousIdentityAdmin(admin.ModelAdmin):
    list_display = ("anonymous_id", "contact", "created_at")
    search_fields = ("anonymous_id", "contact__email")
    raw_id_fields = ("contact",)
    list_select_related = ("contact",)


@admin.register(GroupIdentity)
class GroupIdentityAdmin(admin.ModelAdmin):
    list_display = ("group_id", "account", "source", "created_at")
    search_fields = ("group_id", "account__domain")
    raw_id_fields = ("account",)
    list_select_related = ("account", "source")


@admin.register(AccountCreation)
class AccountCreationAdmin(admin.ModelAdmin):
    """Which source's signals created which account (and so used its hourly budget)."""

    list_display = ("account", "source", "created_at")
    list_filter = ("source",)
    search_fields = ("account__domain", "account__name")
    list_select_related = ("account", "source")
    readonly_fields = ("account", "source", "created_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "source", "received_at")
    list_filter = ("source",)
    search_fields = ("webhook_id",)
    readonly_fields = ("source", "webhook_id", "received_at")
