"""Admin: playbook settings first (configuration), recommendations for inspection (read-mostly)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.html import format_html, format_html_join

from recommendations.models import Evidence, PlaybookConfig, Recommendation
from recommendations.playbooks import all_playbooks, get_playbook


def _playbook_choices() -> list[tuple[str, str]]:
    return [(p.code, p.label) for p in all_playbooks()]


class PlaybookConfigForm(forms.ModelForm):
    code = forms.ChoiceField(choices=_playbook_choices)

    class Meta:
        model = PlaybookConfig
        fields = ["code", "enabled", "params"]

    def clean(self):
        cleaned = super().clean()
        code, params = cleaned.get("code"), cleaned.get("params") or {}
        if code and isinstance(params, dict):
            known = set(get_playbook(code).defaults)
            unknown = sorted(set(params) - known)
            if unknown:
                self.add_error(
                    "params", f"Unknown parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
                )
            for key, default in get_playbook(code).defaults.items():
                if (
                    key in params
                    and type(params[key]) is not type(default)
                    and not (isinstance(default, float) and isinstance(params[key], int))
                ):
                    self.add_error("params", f"{key} must be a {type(default).__name__} like {json.dumps(default)}.")
        elif params and not isinstance(params, dict):
            self.add_error("params", 'Must be a JSON object. Example: {"min_visits": 4}')
        return cleaned


@admin.register(PlaybookConfig)
class PlaybookConfigAdmin(admin.ModelAdmin):
    form = PlaybookConfigForm
    list_display = ["code", "enabled", "params", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["code"]
    readonly_fields = ["defaults_and_help"]
    fieldsets = [(None, {"fields": ["code", "enabled", "params"]}), ("Defaults", {"fields": ["defaults_and_help"]})]

    @admin.display(description="Defaults and what they mean")
    def defaults_and_help(self, obj: PlaybookConfig) -> str:
        if not obj or not obj.code:
            rows = [(p.code, "", json.dumps(dict(p.defaults))) for p in all_playbooks()]
            return format_html("<ul>{}</ul>", format_html_join("", "<li><b>{}</b>{}: {}</li>", rows))
        playbook = get_playbook(obj.code)
        rows = [(key, json.dumps(value), playbook.param_help.get(key, "")) for key, value in playbook.defaults.items()]
        return format_html("<ul>{}</ul>", format_html_join("", "<li><b>{}</b> = {} — {}</li>", rows))


class EvidenceInline(admin.TabularInline):
    model = Evidence
    extra = 0
    fields = ["statement", "kind", "occurred_at", "signal", "fact_type", "fact_id"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = ["title", "account", "action_type", "status", "priority", "confidence", "created_at"]
    list_filter = ["status", "action_type", "playbook"]
    search_fields = ["title", "account__name", "account__domain", "reasoning"]
    list_select_related = ["account"]
    raw_id_fields = ["account", "contact", "trust_decision"]
    inlines = [EvidenceInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "account",
                    "contact",
                    "action_type",
                    "title",
                    "status",
                    "priority",
                    "confidence",
                    "confidence_note",
                ]
            },
        ),  # fmt: skip
        ("Reasoning", {"fields": ["reasoning", "rationale", "why_now", "counterfactual"]}),
        ("Draft", {"fields": ["draft_subject", "draft_body"]}),
        (
            "Advanced",
            {
                "classes": ["collapse"],
                "fields": [
                    "playbook",
                    "stakes",
                    "trust_decision",
                    "dedupe_key",
                    "findings",
                    "expires_at",
                    "snoozed_until",
                    "scheduled_for",
                    "closed_reason",
                    "version",
                    "created_at",
                    "updated_at",
                ],
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # every field shown is read-only: the record is the engine's, decisions go through review services
        return flatten_fieldsets(self.fieldsets)

    def has_add_permission(self, request) -> bool:
        return False  # recommendations come from analysis; decisions go through the inbox or the API


from recommendations.learning import admin as learning_admin  # noqa: E402,F401  (registers the learning's admin)
