"""What salesai proposes, why, what people decided, and what was done (once)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from recommendations.playbooks import action_for, action_type_choices, shipped_playbooks
from salesai.singletons import OneRow

#: The action types of the playbooks that come with salesai, as an enum (``ActionType.PRICING_OUTREACH``).
#: Each playbook declares its own (``recommendations.playbooks``); this is a view of them for code and
#: tests that name one. ``Recommendation.action_type`` reads its choices from the registry instead, so
#: a playbook registered elsewhere proposes valid action types too.
ActionType = models.TextChoices(
    "ActionType",
    [(action.code.upper(), (action.code, action.label)) for p in shipped_playbooks() for action in p.actions],
    module=__name__,
)


class Recommendation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        SCHEDULED = "scheduled", "Scheduled (undo window)"
        EXECUTED = "executed", "Executed"
        REJECTED = "rejected", "Rejected"
        SNOOZED = "snoozed", "Snoozed"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"
        HELD = "held", "Held (contact cap or daily budget)"

    OPEN_STATUSES = (Status.PENDING, Status.SCHEDULED, Status.SNOOZED, Status.HELD)

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="recommendations")
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="recommendations"
    )
    action_type = models.CharField(max_length=30, choices=action_type_choices)
    playbook = models.CharField(max_length=50, help_text="The playbook whose finding leads this recommendation.")
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    priority = models.PositiveSmallIntegerField(default=50, help_text="0–100, higher first.")
    confidence = models.FloatField(default=0.5, help_text="0–1.")
    confidence_note = models.CharField(
        max_length=300, blank=True, help_text="What the confidence is the probability of, in words."
    )
    reasoning = models.TextField(help_text="The story: what happened, with dates, counts and amounts.")
    rationale = models.TextField(blank=True, help_text="Why the proposed action should work.")
    why_now = models.TextField(blank=True)
    counterfactual = models.TextField(blank=True, help_text="What would make salesai drop this.")
    draft_subject = models.CharField(max_length=300, blank=True)
    draft_body = models.TextField(blank=True)
    stakes = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    trust_decision = models.ForeignKey(
        "trust.TrustDecision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dedupe_key = models.CharField(max_length=200, blank=True)
    findings = models.JSONField(default=list, blank=True, help_text="The playbook findings behind it (criteria).")
    expires_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="When an autonomous action executes.")
    held_until = models.DateTimeField(
        null=True, blank=True, help_text="Held: when a contact cap or the rep's daily budget lets it back in."
    )
    held_reason = models.CharField(max_length=300, blank=True, help_text="Held: which cap or budget holds it.")
    entered_inbox_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it last came to await its rep (new, or back from a hold): the rep's daily budget counts these.",
    )
    closed_reason = models.CharField(max_length=300, blank=True, help_text="Why it was withdrawn, expired or failed.")
    version = models.PositiveIntegerField(
        default=1, help_text="Goes up whenever what a person would approve changes (draft, recipient, evidence)."
    )
    awaiting_polish = models.BooleanField(
        default=False,
        help_text="The optional LLM rewrite is under way: trust decides once it is done (or the sweep gives up "
        "waiting), so what trust judged is what would be sent.",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-priority", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "action_type"],
                condition=Q(status__in=["pending", "scheduled", "snoozed", "held"]),
                name="one_open_recommendation_per_account_action",
            ),
            models.CheckConstraint(condition=Q(priority__lte=100), name="recommendation_priority_max_100"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="recommendation_confidence_unit"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-priority", "-created_at"], name="rec_inbox_idx"),
            models.Index(fields=["account", "status"], name="rec_account_status_idx"),
            models.Index(fields=["status", "scheduled_for"], name="rec_scheduled_idx"),
            models.Index(fields=["status", "snoozed_until"], name="rec_snoozed_idx"),
            models.Index(fields=["status", "held_until"], name="rec_held_idx"),
            models.Index(fields=["entered_inbox_at"], name="rec_entered_inbox_idx"),
            # "what changed since": the simulator's watcher reads it after every delivery
            models.Index(fields=["updated_at"], name="rec_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def get_action_type_display(self) -> str:
        """The action type's name as its playbook declares it (the code itself if no playbook does).
        Django's generated one would normalise every choice on every call: each inbox card asks twice."""
        action = action_for(self.action_type)
        return action.label if action else self.action_type

    @property
    def is_answer(self) -> bool:
        """Whether it answers a message its contact wrote (an action that answers, to the person whose
        reply is among its evidence): a one-to-one e-mail rather than outreach."""
        action = action_for(self.action_type)
        if action is None or not action.answers or self.contact_id is None:
            return False
        return self.evidence.filter(signal__kind="email_reply", signal__contact_id=self.contact_id).exists()

    @property
    def is_internal(self) -> bool:
        """Whether executing it tells people inside the company rather than e-mailing the customer."""
        action = action_for(self.action_type)
        return action is not None and action.internal


class Evidence(models.Model):
    """One dated fact behind a recommendation: a stored signal, or a named record (contract, goal)."""

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="evidence")
    signal = models.ForeignKey("signals.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fact_type = models.CharField(max_length=30, blank=True, help_text="For a named record: contract, goal, …")
    fact_id = models.PositiveBigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=30, blank=True)
    statement = models.CharField(max_length=500)
    occurred_at = models.DateTimeField(null=True, blank=True)
    weight = models.FloatField(default=1.0)

    class Meta:
        ordering = ["-occurred_at", "id"]
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return self.statement


class Review(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        EDITED = "edited", "Edited and approved"
        REJECTED = "rejected", "Rejected"
        SNOOZED = "snoozed", "Snoozed"
        CANCELLED = "cancelled", "Cancelled (autopilot)"

    class RejectReason(models.TextChoices):
        WRONG_TIMING = "wrong_timing", "Wrong timing"
        WRONG_CONTACT = "wrong_contact", "Wrong contact"
        ALREADY_HANDLED = "already_handled", "Already handled"
        NOT_RELEVANT = "not_relevant", "Not relevant"
        BAD_DRAFT = "bad_draft", "Draft not usable"
        OTHER = "other", "Other"

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reason = models.CharField(max_length=30, choices=RejectReason.choices, blank=True)
    reason_text = models.TextField(blank=True)
    edited_subject = models.CharField(max_length=300, blank=True)
    edited_body = models.TextField(blank=True)
    edit_ratio = models.FloatField(null=True, blank=True, help_text="Share of the draft the edit changed (0–1).")
    version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The recommendation's version the person saw and decided on."
    )
    recipient = models.EmailField(
        blank=True, help_text="Whom the approved e-mail goes to: the executor sends to no one else on this approval."
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.reviewer}"


class Execution(models.Model):
    """One performed action. The idempotency key is claimed (committed) before the side effect, so a
    retried or duplicated task never performs it twice."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="executions")
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CLAIMED)
    autonomous = models.BooleanField(default=False)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_id = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-claimed_at"]

    def __str__(self) -> str:
        return f"{self.idempotency_key}: {self.status}"


class PlaybookConfig(models.Model):
    """An operator's settings for one playbook: on/off and parameter overrides of its defaults.

    Without a row a playbook runs with the defaults written in its module (shown in the admin)."""

    code = models.CharField(max_length=50, unique=True, help_text="The playbook's code. Example: pricing_interest")
    enabled = models.BooleanField(default=True)
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text='Overrides of the playbook defaults. Example: {"min_visits": 4, "window_days": 7}',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "playbook setting"

    def __str__(self) -> str:
        return f"{self.code} ({'on' if self.enabled else 'off'})"


class OutreachPolicy(OneRow):
    """How much outreach any contact and account receive, and when (one row, edited in the admin).

    The caps count every outbound e-mail: the rep's own (``email_sent`` signals from their mailbox or
    CRM) and salesai's, plus the sends already offered (awaiting a person or scheduled). A
    recommendation that would break one is held, not dropped, until the cap allows."""

    contact_cap = models.PositiveSmallIntegerField(
        default=3, help_text="Outbound e-mails per contact in the window below, at most. Example: 3"
    )
    contact_window_days = models.PositiveSmallIntegerField(
        default=7, help_text="The contact cap's window in days. Example: 7"
    )
    account_daily_cap = models.PositiveSmallIntegerField(
        default=2, help_text="Outbound e-mails per account in any 24 hours, at most. Example: 2"
    )
    answers_exempt = models.BooleanField(
        default=True,
        help_text="A person's answer to a contact's own unanswered e-mail is not held by the contact and account "
        "caps, which are for outreach (as e-mail tools leave one-to-one e-mails out of frequency caps). It still "
        "counts towards the caps of later outreach, and salesai answering on its own is always capped.",
    )
    rep_daily_budget = models.PositiveSmallIntegerField(
        default=25,
        validators=[MinValueValidator(1)],
        help_text="New recommendations that enter one rep's inbox per day (their local day); beyond it the lowest "
        "priorities wait for the next day, and a more urgent one takes the place of the lowest. Example: 25",
    )
    working_hours_start = models.PositiveSmallIntegerField(
        default=9, help_text="Local hour (contact's time zone) from which e-mails go out, Monday to Friday. Example: 9"
    )
    working_hours_end = models.PositiveSmallIntegerField(
        default=17, help_text="Local hour at which sending stops for the day. Example: 17"
    )
    ai_disclosure = models.BooleanField(
        default=False, help_text="Add the disclosure line below to e-mails salesai sends on its own."
    )
    ai_disclosure_text = models.CharField(
        max_length=300,
        default="This e-mail was written and sent with the help of an AI assistant.",
        help_text="The line added to autonomous e-mails. Example: Sent with the help of an AI assistant.",
    )
    human_reply_pause_days = models.PositiveSmallIntegerField(
        default=14,
        help_text="After a person at an account replies, salesai does not act alone there for this many days, "
        "or until a rep acts on the account. Example: 14",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "outreach policy"
        verbose_name_plural = "outreach policy"
        constraints = [
            models.CheckConstraint(
                condition=Q(working_hours_start__lt=models.F("working_hours_end")) & Q(working_hours_end__lte=24),
                name="outreach_policy_working_hours_valid",
            ),
        ]

    def __str__(self) -> str:
        return "Outreach policy"


from recommendations.learning.models import (  # noqa: E402,F401
    LearnedModel,
    LearningPolicy,
    RecommendationOutcome,
    ThresholdProposal,
)
