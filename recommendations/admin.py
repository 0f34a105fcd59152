"""Admin: playbook settings first (configuration), recommendations for inspection (read-mostly)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.html import format_html, format_html_join

from recommendations.models import Evidence, OutreachPolicy, PlaybookConfig, Recommendation
from recommendations.playbooks import all_playbooks, find_playbook, get_playbook
from recommendations.services import caps


def _playbook_choices() -> list[tuple[str, str]]:
    return [(p.code, p.label) for p in all_playbooks()]


PARAM_PREFIX = "param_"


def _param_field(key: str, default, help_text: str) -> forms.Field:
    """A form field for one playbook parameter, typed like its default; empty = the default."""
    options = {"label": key.replace("_", " ").capitalize(), "required": False, "help_text": help_text}
    if isinstance(default, bool):
        return forms.TypedChoiceField(
            choices=[("", f"Default ({'yes' if default else 'no'})"), ("true", "Yes"), ("false", "No")],
            coerce=lambda value: value == "true",
            empty_value=None,
            **options,
        )
    if isinstance(default, int):
        return forms.IntegerField(min_value=0, **options)
    if isinstance(default, float):
        return forms.FloatField(min_value=0, **options)
    if isinstance(default, list | tuple):
        options["help_text"] = f"{help_text} Several values: separate them with commas."
        return forms.CharField(**options)
    return forms.CharField(**options)


def _param_value(value, default):
    if isinstance(default, list | tuple) and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class PlaybookConfigForm(forms.ModelForm):
    """A playbook's settings: each parameter as its own field with its help text (empty = the default);
    the raw JSON stays under "Advanced" for parameters a field cannot express."""

    code = forms.ChoiceField(choices=_playbook_choices)

    class Meta:
        model = PlaybookConfig
        fields = ["code", "enabled", "params"]
        labels = {"params": "Parameters as JSON (advanced)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["params"].required = False
        code = (self.data.get("code") if self.is_bound else None) or self.instance.code or self.initial.get("code")
        playbook = find_playbook(code) if code else None
        self.param_defaults = dict(playbook.defaults) if playbook else {}
        current = self.instance.params if isinstance(self.instance.params, dict) else {}
        for key, default in self.param_defaults.items():
            field = _param_field(key, default, playbook.param_help.get(key, ""))
            value = current.get(key)
            if value is not None:
                field.initial = ", ".join(map(str, value)) if isinstance(value, list) else value
            field.widget.attrs.setdefault(
                "placeholder", json.dumps(default) if not isinstance(default, str) else default
            )
            self.fields[PARAM_PREFIX + key] = field

    @property
    def param_field_names(self) -> list[str]:
        return [PARAM_PREFIX + key for key in self.param_defaults]

    def clean(self):
        cleaned = super().clean()
        code, params = cleaned.get("code"), cleaned.get("params") or {}
        if isinstance(params, dict) and self.param_defaults:
            params = dict(params)
            for key, default in self.param_defaults.items():
                value = cleaned.get(PARAM_PREFIX + key)
                if value not in (None, ""):
                    params[key] = _param_value(value, default)
            cleaned["params"] = params
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
                    and not (isinstance(default, tuple) and isinstance(params[key], list))
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

    def get_form(self, request, obj=None, change=False, **kwargs):
        # the parameter fields are added per playbook when the form is built, not declared on the model
        kwargs["fields"] = ["code", "enabled", "params"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        playbook = find_playbook(obj.code) if obj is not None and obj.code else None
        params = [PARAM_PREFIX + key for key in (playbook.defaults if playbook else {})]
        sets = [(None, {"fields": ["code", "enabled"]})]
        if params:
            sets.append(("Parameters (empty = the playbook's default)", {"fields": params}))
        else:
            sets.append(("Parameters", {"fields": [], "description": "Save once to set this playbook's parameters."}))
        sets.append(("Advanced", {"fields": ["params"], "classes": ["collapse"]}))
        sets.append(("Defaults", {"fields": ["defaults_and_help"]}))
        return sets

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


@admin.register(OutreachPolicy)
class OutreachPolicyAdmin(admin.ModelAdmin):
    """One row: caps, the rep's daily budget and the compliance settings every send obeys."""

    list_display = ["__str__", "contact_cap", "contact_window_days", "account_daily_cap", "rep_daily_budget"]
    fieldsets = [
        (
            "Caps",
            {
                "fields": [
                    "contact_cap",
                    "contact_window_days",
                    "account_daily_cap",
                    "answers_exempt",
                    "rep_daily_budget",
                ]
            },
        ),
        ("Compliance", {"fields": ["working_hours_start", "working_hours_end", "human_reply_pause_days"]}),
        ("AI disclosure", {"fields": ["ai_disclosure", "ai_disclosure_text"], "classes": ["collapse"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return not OutreachPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        caps.policy_save(policy=obj, actor=request.user, changed=form.changed_data)


from recommendations.learning import admin as learning_admin  # noqa: E402,F401  (registers the learning's admin)
