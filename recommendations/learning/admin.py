"""The learning in the admin: every model version with its metrics, the outcome records, and
threshold proposals a manager accepts or declines. Imported by ``recommendations/admin.py``."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from recommendations.learning import thresholds, training
from recommendations.learning.models import LearnedModel, LearningPolicy, RecommendationOutcome, ThresholdProposal
from salesai import clock


@admin.register(LearnedModel)
class LearnedModelAdmin(admin.ModelAdmin):
    list_display = ["kind", "key", "version", "n_samples", "brier", "shown_brier", "trained_at"]
    list_filter = ["kind", "key"]
    ordering = ["kind", "key", "-version"]
    readonly_fields = ["kind", "key", "version", "n_samples", "trained_at", "metrics_pretty", "params_pretty"]
    fields = readonly_fields
    actions = ["retrain_now"]

    @admin.display(description="Brier on its training data (base rate)")
    def brier(self, obj: LearnedModel) -> str:
        brier, base = obj.metrics.get("brier"), obj.metrics.get("brier_base_rate")
        return "—" if brier is None else f"{brier:.3f} ({base:.3f})"

    @admin.display(description="Brier of what reps saw, last 7 days (base rate)")
    def shown_brier(self, obj: LearnedModel) -> str:
        brier, base = obj.metrics.get("shown_brier"), obj.metrics.get("shown_brier_base_rate")
        return "—" if brier is None else f"{brier:.3f} ({base:.3f}) of {obj.metrics.get('shown_reviews')}"

    @admin.display(description="metrics")
    def metrics_pretty(self, obj: LearnedModel) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.metrics, indent=2, sort_keys=True))

    @admin.display(description="parameters")
    def params_pretty(self, obj: LearnedModel) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.params, indent=2, sort_keys=True)[:20_000])

    @admin.action(description="Retrain every learnt model now")
    def retrain_now(self, request, queryset) -> None:
        result = training.retrain(now=clock.now())
        self.message_user(request, f"Retrained: {json.dumps(result, default=str)[:500]}", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RecommendationOutcome)
class RecommendationOutcomeAdmin(admin.ModelAdmin):
    list_display = ["recommendation", "playbook", "review", "reject_reason", "sent", "autonomous", "result",
                    "confidence_shown", "updated_at"]  # fmt: skip
    list_filter = ["playbook", "review", "reject_reason", "result", "sent", "autonomous"]
    list_select_related = ["recommendation"]
    raw_id_fields = ["recommendation", "account"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ThresholdProposal)
class ThresholdProposalAdmin(admin.ModelAdmin):
    """Proposals wait for a manager: accepting one changes the playbook's setting (audited), never before."""

    list_display = ["summary", "status", "created_at", "decided_by", "decided_at"]
    list_filter = ["status", "playbook"]
    readonly_fields = ["playbook", "param", "current_value", "proposed_value", "effect", "summary", "status",
                       "created_at", "decided_at", "decided_by"]  # fmt: skip
    fields = readonly_fields
    actions = ["accept", "decline"]

    @admin.action(description="Accept: apply the proposed value to the playbook")
    def accept(self, request, queryset) -> None:
        for proposal in queryset:
            thresholds.accept_proposal(proposal=proposal, user=request.user, now=clock.now())
        self.message_user(request, "Accepted proposals are applied to their playbooks.", messages.SUCCESS)

    @admin.action(description="Decline")
    def decline(self, request, queryset) -> None:
        for proposal in queryset:
            thresholds.decline_proposal(proposal=proposal, user=request.user, now=clock.now())
        self.message_user(request, "Declined.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LearningPolicy)
class LearningPolicyAdmin(admin.ModelAdmin):
    """One row: the false-alarm budget the threshold proposals aim under (audited when changed)."""

    list_display = ["__str__", "false_alarm_budget", "updated_at"]
    fields = ["false_alarm_budget"]

    def has_add_permission(self, request) -> bool:
        return not LearningPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        thresholds.policy_save(policy=obj, actor=request.user, changed=form.changed_data)
