"""Forms of the review inbox: its filters, the four card actions, and notice preferences.

Forms only validate and shape input; the writes happen in ``recommendations.services.review`` (card actions)
and ``recommendations.services.notifications`` (preferences)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.contrib.auth import get_user_model

from accounts.models import RepProfile
from recommendations.models import Recommendation, Review
from recommendations.playbooks import action_type_choices
from recommendations.services.review import SUBJECT_LINE_BREAK
from salesai import clock
from salesai.roles import MANAGER_GROUP, REP_GROUP, person_name
from salesai.text import has_line_break

INBOX_STATUSES = [
    (Recommendation.Status.PENDING, "Awaiting review"),
    (Recommendation.Status.SNOOZED, "Snoozed"),
    (Recommendation.Status.HELD, "Held (caps)"),
    (Recommendation.Status.SCHEDULED, "Autopilot (scheduled)"),
    (Recommendation.Status.EXECUTED, "Done"),
    (Recommendation.Status.REJECTED, "Rejected"),
    (Recommendation.Status.WITHDRAWN, "Withdrawn"),
    (Recommendation.Status.EXPIRED, "Expired"),
    (Recommendation.Status.FAILED, "Failed"),
    ("all", "All"),
]


def _action_choices() -> list[tuple[str, str]]:
    """Every registered action type (read when the form is built), after "All actions"."""
    return [("", "All actions"), *action_type_choices()]


class InboxFilterForm(forms.Form):
    """The inbox's GET filters. Invalid values fall back to the defaults rather than erroring: a
    stale bookmark should still open the inbox."""

    q = forms.CharField(label="Search", required=False, max_length=100)
    status = forms.ChoiceField(label="Status", choices=INBOX_STATUSES, required=False)
    action_type = forms.ChoiceField(label="Action", choices=_action_choices, required=False)
    account = forms.IntegerField(label="Account", required=False, min_value=1, widget=forms.HiddenInput)
    rep = forms.TypedChoiceField(label="Rep", required=False, coerce=int, empty_value=None)
    unassigned = forms.BooleanField(label="Accounts without an owner", required=False, widget=forms.HiddenInput)

    def __init__(self, *args, manager: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.manager = manager
        if manager:
            reps = (
                get_user_model()
                .objects.filter(groups__name__in=[REP_GROUP, MANAGER_GROUP], is_active=True)
                .distinct()
                .order_by("username")
                .only("id", "username", "first_name", "last_name")
            )
            self.fields["rep"].choices = [("", "Everyone")] + [(u.pk, person_name(u)) for u in reps]
        else:
            del self.fields["rep"]
            del self.fields["unassigned"]

    def cleaned(self) -> dict:
        """The valid filters only (an invalid field is dropped, the others still apply)."""
        self.is_valid()
        data = {}
        for name in self.fields:
            if name in getattr(self, "cleaned_data", {}) and name not in self.errors:
                data[name] = self.cleaned_data[name]
        data["status"] = data.get("status") or Recommendation.Status.PENDING
        return data


class VersionForm(forms.Form):
    """Approve: the version of the recommendation the rep saw (a hidden field of the card), so a
    recommendation that changed meanwhile is not approved in its new form unseen."""

    version = forms.IntegerField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={"required": "This form did not say which version you saw: reload the page and try again."},
    )


class ApproveForm(VersionForm):
    """Edit then approve: the draft as the rep wants it sent."""

    subject = forms.CharField(label="Subject", max_length=300, strip=True)
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 8}), strip=True)

    def clean_subject(self) -> str:
        subject = self.cleaned_data["subject"]
        if has_line_break(subject):
            raise forms.ValidationError(SUBJECT_LINE_BREAK)
        return subject

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if len(body) < 10:
            raise forms.ValidationError("The message is too short to send (10 characters at least).")
        return body


class RejectForm(forms.Form):
    reason = forms.ChoiceField(label="Reason", choices=Review.RejectReason.choices)
    reason_text = forms.CharField(
        label="Anything to add?", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self):
        data = super().clean()
        if data.get("reason") == Review.RejectReason.OTHER and not (data.get("reason_text") or "").strip():
            self.add_error("reason_text", "Please say why when the reason is “Other”.")
        return data


class SnoozeForm(forms.Form):
    until = forms.DateField(label="Snooze until", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *args, time_zone: str = "UTC", **kwargs):
        if data is not None and hasattr(data, "getlist"):
            # the quick buttons ("Tomorrow") and the date field share the name: the one filled in wins
            chosen = [v for v in data.getlist("until") if v]
            data = data.copy()
            data.setlist("until", chosen[-1:] or [""])
        super().__init__(data, *args, **kwargs)
        self.time_zone = time_zone

    def clean_until(self) -> dt.date:
        until = self.cleaned_data["until"]
        today = clock.now().astimezone(zoneinfo.ZoneInfo(self.time_zone)).date()
        if until <= today:
            raise forms.ValidationError("Pick a day after today.")
        if until > today + dt.timedelta(days=180):
            raise forms.ValidationError("Snooze for at most 180 days.")
        return until

    def until_datetime(self) -> dt.datetime:
        """The chosen day's start in the rep's time zone (so it wakes up in their morning)."""
        day = self.cleaned_data["until"]
        return dt.datetime.combine(day, dt.time(hour=8), tzinfo=zoneinfo.ZoneInfo(self.time_zone))


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


class PreferencesForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label="Time zone", choices=_time_zone_choices)
    digest_hour = forms.TypedChoiceField(
        label="Morning digest at",
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        help_text="Local time, in the time zone above.",
    )

    undo_seconds = forms.IntegerField(
        label="Undo window after I approve (seconds)",
        min_value=0,
        max_value=120,
        required=False,  # left out: unchanged
        help_text="An approved e-mail waits this long before it goes out, so you can undo it. 0–120; default 30.",
    )
    signature = forms.CharField(
        label="Signature for drafts",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How e-mails drafted for you end. Example: Ines Moreau · Account Executive · +49 30 1234 567",
    )

    class Meta:
        model = RepProfile
        fields = ["time_zone", "digest_enabled", "digest_hour", "urgent_notices_enabled", "undo_seconds", "signature"]
        labels = {
            "digest_enabled": "Send me a morning digest of new recommendations",
            "urgent_notices_enabled": "E-mail me at once about urgent recommendations",
        }

    def clean_signature(self) -> str:
        signature = self.cleaned_data["signature"].strip()
        if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in signature):
            raise forms.ValidationError("Use plain text: no control characters.")
        return signature
