"""The trust model's data: per-domain policies, the track record, and every decision with its numbers.

``trust`` knows nothing about recommendations: a domain is a plain string (the action type), and a
decision or outcome refers to what it concerns by an opaque ``reference`` such as ``recommendation:42``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class TrustPolicy(models.Model):
    class Mode(models.TextChoices):
        REVIEW = "review", "Always review"
        AUTONOMOUS = "autonomous", "Autonomous when trusted"
        PAUSED = "paused", "Paused (nothing executes on its own)"

    domain = models.CharField(max_length=50, unique=True, help_text="The action type. Example: follow_up_email")
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.AUTONOMOUS)
    required_reliability = models.FloatField(
        default=0.90,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.999)],
        help_text="The lower bound of the success rate must reach this. Example: 0.90",
    )
    confidence_level = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0.5), MaxValueValidator(0.999)],
        help_text="Confidence of the anytime-valid bound. Example: 0.95",
    )
    min_reviews = models.PositiveIntegerField(default=20, help_text="Reviews needed before autonomy. Example: 20")
    minor_edit_max_ratio = models.FloatField(
        default=0.15,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="An edit changing at most this share of the draft counts as minor (a success). Example: 0.15",
    )
    stakes_cap = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("25000"),
        help_text="Money at stake above which a person always decides. Empty = no cap. Example: 25000",
    )
    review_strategic_accounts = models.BooleanField(default=True, help_text="Always review strategic accounts.")
    review_c_level_contacts = models.BooleanField(default=True, help_text="Always review C-level contacts.")
    undo_window_minutes = models.PositiveIntegerField(
        default=10, help_text="Autonomous actions wait this long, cancellable. Example: 10"
    )
    daily_cap = models.PositiveIntegerField(default=50, help_text="Autonomous actions per day at most. Example: 50")
    demote_after_consecutive_failures = models.PositiveIntegerField(
        default=2, validators=[MinValueValidator(1)], help_text="Demote after this many failures in a row. Example: 2"
    )
    review_sample_rate = models.FloatField(
        default=0.10,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Share of autonomous-eligible actions still sent to review, for honest labels. Example: 0.10",
    )
    half_life_days = models.FloatField(
        default=90.0, validators=[MinValueValidator(1)], help_text="Evidence this old counts half. Example: 90"
    )
    demoted_at = models.DateTimeField(null=True, blank=True)
    demoted_reason = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "trust policies"
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.domain}: {self.get_mode_display()}"


class TrustDecision(models.Model):
    class Verdict(models.TextChoices):
        REVIEW = "review", "Needs review"
        AUTONOMOUS = "autonomous", "Autonomous"

    domain = models.CharField(max_length=50, db_index=True)
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    would_be_autonomous = models.BooleanField(
        default=False, help_text="Shadow mode: what the record alone would have allowed."
    )
    sampled_for_review = models.BooleanField(default=False)
    stakes = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    reasons = models.JSONField(default=list, help_text="Sentences a person reads.")
    numbers = models.JSONField(default=dict, help_text="The figures behind the verdict.")
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["domain", "created_at"], name="trust_decision_domain_time_idx"),
            # the daily cap counts today's autonomous decisions on every decision, most of which are
            # reviews: the verdict is in the key (not a partial index's condition) because the statement
            # sends it as a parameter, and a prepared statement's generic plan cannot use a partial index
            models.Index(fields=["domain", "verdict", "created_at"], name="trust_decision_verdict_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.domain}: {self.verdict}"


class Outcome(models.Model):
    """One labelled result in a domain's track record (a review, or what followed an autonomous action)."""

    class Kind(models.TextChoices):
        APPROVED = "approved", "Approved unchanged"
        EDITED_MINOR = "edited_minor", "Approved after a minor edit"
        EDITED_MAJOR = "edited_major", "Approved after a major edit"
        REJECTED = "rejected", "Rejected"
        UNDONE = "undone", "Autonomous action undone"
        NEGATIVE_REPLY = "negative_reply", "Negative reply to an autonomous action"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe after an autonomous action"
        COMPLAINT = "complaint", "Complaint"
        BOUNCE = "bounce", "Bounce"
        WRONG_PERSON = "wrong_person", "Wrong person"
        POSITIVE_REPLY = "positive_reply", "Positive reply to an autonomous action"

    domain = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    success = models.BooleanField()
    severe = models.BooleanField(default=False)
    autonomous = models.BooleanField(default=False, help_text="Whether the system had acted on its own.")
    reference = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["domain", "occurred_at"], name="trust_outcome_domain_time_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "reference", "kind"], condition=~Q(reference=""), name="trust_outcome_once_per_ref"
            )
        ]

    def __str__(self) -> str:
        return f"{self.domain}: {self.kind}"


class TrustSwitch(models.Model):
    """The global kill switch (a single row): when on, nothing executes on its own."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    kill_switch = models.BooleanField(default=False, help_text="Stop every autonomous action at once.")
    reason = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "trust switch"
        verbose_name_plural = "trust switches"
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="trust_switch_single_row")]

    def __str__(self) -> str:
        return "Kill switch ON" if self.kill_switch else "Kill switch off"
