"""The learning's rows: one outcome per recommendation and each fitted model version.

Imported at the bottom of ``recommendations/models.py`` so they belong to the ``recommendations`` app."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from salesai.singletons import OneRow


class RecommendationOutcome(models.Model):
    """How one recommendation was reviewed, whether it was sent, and what followed within a window.

    Kept up to date by ``recommendations.learning.outcomes`` from reviews, executions and the signals
    that come back (replies, bounces, meetings) and the account's opportunities. Snapshot fields
    (segment, seniority, features, confidence shown) are copied when the outcome is opened, so later
    edits of the account do not rewrite history."""

    class Result(models.TextChoices):
        PENDING = "pending", "Window still open"
        NOT_SENT = "not_sent", "Not sent"
        POSITIVE_REPLY = "positive_reply", "Positive reply"
        MEETING = "meeting", "Meeting booked"
        OPPORTUNITY_CREATED = "opportunity_created", "Opportunity created"
        OPPORTUNITY_ADVANCED = "opportunity_advanced", "Opportunity advanced"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        NEGATIVE_REPLY = "negative_reply", "Negative reply"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
        BOUNCE = "bounce", "Bounced"
        SILENCE = "silence", "Silence"

    POSITIVE = (
        Result.POSITIVE_REPLY,
        Result.MEETING,
        Result.OPPORTUNITY_CREATED,
        Result.OPPORTUNITY_ADVANCED,
        Result.WON,
    )

    recommendation = models.OneToOneField(
        "recommendations.Recommendation", on_delete=models.CASCADE, related_name="outcome"
    )
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    playbook = models.CharField(max_length=50)
    action_type = models.CharField(max_length=30)
    segment = models.CharField(max_length=20, blank=True)
    seniority = models.CharField(max_length=20, blank=True, help_text="The contact's seniority when proposed.")
    features = models.JSONField(default=dict, blank=True, help_text="The finding's features the models read.")
    confidence_shown = models.FloatField(null=True, blank=True, help_text="The confidence the reviewer saw.")
    review = models.CharField(max_length=20, blank=True, help_text="approved, edited, rejected or cancelled.")
    reject_reason = models.CharField(max_length=30, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    undone = models.BooleanField(default=False, help_text="A person cancelled it inside its undo window.")
    sent = models.BooleanField(default=False)
    autonomous = models.BooleanField(default=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=500, blank=True)
    result = models.CharField(max_length=30, choices=Result.choices, default=Result.PENDING)
    followed = models.JSONField(default=list, blank=True, help_text="Every result seen in the window, in order.")
    window_ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["playbook", "created_at"], name="outcome_playbook_idx"),
            models.Index(fields=["message_id"], name="outcome_message_idx"),
            models.Index(fields=["result", "window_ends_at"], name="outcome_window_idx"),
        ]

    def __str__(self) -> str:
        return f"recommendation {self.recommendation_id}: {self.review or 'unreviewed'}, {self.result}"

    @property
    def approved(self) -> bool:
        return self.review in ("approved", "edited")


class LearnedModel(models.Model):
    """One fitted model version: its parameters and metrics as JSON (no pickles, no files)."""

    class Kind(models.TextChoices):
        CONFIDENCE = "confidence", "Calibrated confidence (per playbook)"
        FIT = "fit", "Account fit"
        CONTACT = "contact", "Contact choice (by rep and role, and by person)"
        TIMING = "timing", "Timing (by playbook and segment)"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=50, blank=True, help_text="The playbook for per-playbook models.")
    version = models.PositiveIntegerField()
    params = models.JSONField(default=dict, help_text="Coefficients, intercept, feature names, prior …")
    metrics = models.JSONField(default=dict, help_text="Brier, base-rate Brier, AUC … on the training data.")
    n_samples = models.PositiveIntegerField(default=0)
    trained_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "key", "-version"]
        constraints = [models.UniqueConstraint(fields=["kind", "key", "version"], name="learned_model_version")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key or '-'} v{self.version}"


class ThresholdProposal(models.Model):
    """A proposed change of one playbook parameter, with its expected effect; applied only when a
    manager accepts it (audited)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    playbook = models.CharField(max_length=50)
    param = models.CharField(max_length=50)
    current_value = models.FloatField()
    proposed_value = models.FloatField()
    effect = models.JSONField(
        default=dict, help_text="Expected false alarms and kept hits per rep per day, before/after."
    )
    summary = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.summary


class LearningPolicy(OneRow):
    """What a manager allows the learning (one row, edited in the admin, every change audited)."""

    false_alarm_budget = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(20.0)],
        help_text="False alarms (rejected as not relevant or already handled) one playbook may bring each rep per "
        "day. Threshold proposals aim to keep every playbook under it. Example: 0.5",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "learning policy"
        verbose_name_plural = "learning policy"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(false_alarm_budget__gte=0) & models.Q(false_alarm_budget__lte=20),
                name="learning_policy_budget_range",
            )
        ]

    def __str__(self) -> str:
        return "Learning policy"
