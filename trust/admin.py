"""The managers' controls: per-domain policies and the global kill switch. Every change goes through a
service that writes its audit row (who, when, old → new) in the same transaction."""

from __future__ import annotations

from django.contrib import admin, messages

from trust import services
from trust.models import Outcome, TrustDecision, TrustPolicy, TrustSwitch


@admin.register(TrustPolicy)
class TrustPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "domain",
        "mode",
        "required_reliability",
        "min_reviews",
        "stakes_cap",
        "daily_cap",
        "undo_window_minutes",
        "demoted_at",
        "updated_at",
    )
    list_filter = (
        "mode",
        "review_strategic_accounts",
        "review_c_level_contacts",
        ("demoted_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("domain", "demoted_reason")
    readonly_fields = ("demoted_at", "demoted_reason", "updated_by", "updated_at")
    list_select_related = ("updated_by",)
    actions = ("pause_domains", "resume_domains")
    fieldsets = (
        (None, {"fields": ("domain", "mode", "required_reliability", "min_reviews", "stakes_cap")}),
        (
            "Always a person",
            {"fields": ("review_strategic_accounts", "review_c_level_contacts")},
        ),
        ("Execution", {"fields": ("undo_window_minutes", "daily_cap")}),
        ("Demotion", {"fields": ("demote_after_consecutive_failures", "demoted_at", "demoted_reason")}),
        (
            "Advanced",
            {
                "classes": ("collapse",),
                "fields": (
                    "confidence_level",
                    "minor_edit_max_ratio",
                    "review_sample_rate",
                    "half_life_days",
                    "updated_by",
                    "updated_at",
                ),
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "domain") if obj else fields

    def save_model(self, request, obj, form, change):
        """Through the service, so the change and its audit row share a transaction."""
        changes = {name: form.cleaned_data[name] for name in services.POLICY_FIELDS if name in form.cleaned_data}
        services.update_policy(policy=obj, user=request.user, changes=changes)

    @admin.action(description="Pause autonomy for the selected domains")
    def pause_domains(self, request, queryset):
        for policy in queryset:
            services.update_policy(policy=policy, user=request.user, changes={"mode": TrustPolicy.Mode.PAUSED})
        self.message_user(request, f"Paused {queryset.count()} domain(s).", messages.SUCCESS)

    @admin.action(description="Allow autonomy when trusted for the selected domains")
    def resume_domains(self, request, queryset):
        for policy in queryset:
            services.update_policy(policy=policy, user=request.user, changes={"mode": TrustPolicy.Mode.AUTONOMOUS})
        self.message_user(request, f"Set {queryset.count()} domain(s) to autonomous when trusted.", messages.SUCCESS)


@admin.register(TrustSwitch)
class TrustSwitchAdmin(admin.ModelAdmin):
    list_display = ("__str__", "reason", "updated_by", "updated_at")
    fields = ("kill_switch", "reason", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")

    def has_add_permission(self, request):
        return not TrustSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.set_kill_switch(on=obj.kill_switch, user=request.user, reason=obj.reason)


@admin.register(TrustDecision)
class TrustDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "domain",
        "verdict",
        "would_be_autonomous",
        "sampled_for_review",
        "stakes",
        "reference",
    )
    list_filter = ("verdict", "would_be_autonomous", "sampled_for_review", "domain")
    search_fields = ("reference", "domain")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Outcome)
class OutcomeAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "domain", "kind", "success", "severe", "autonomous", "reference")
    list_filter = ("kind", "success", "severe", "autonomous", "domain")
    search_fields = ("reference", "domain")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
