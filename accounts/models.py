"""Who we sell to: accounts, their people, deals, contracts and goals, and the live picture of each."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Account(models.Model):
    class Segment(models.TextChoices):
        SMB = "smb", "SMB"
        MID_MARKET = "mid_market", "Mid-market"
        ENTERPRISE = "enterprise", "Enterprise"

    name = models.CharField(max_length=200)
    domain = models.CharField(
        max_length=253, unique=True, help_text="Registrable domain, lower case. Example: acme.com"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
        help_text="The rep who owns this account and sees its recommendations.",
    )
    segment = models.CharField(max_length=20, choices=Segment.choices, default=Segment.SMB)
    plan = models.CharField(max_length=100, blank=True, help_text="Product plan, e.g. from a Segment group call.")
    seats = models.PositiveIntegerField(null=True, blank=True, help_text="Seats purchased.")
    arr = models.DecimalField(
        "ARR",
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
        help_text="Annual recurring revenue in the account currency. Example: 48000",
    )
    strategic = models.BooleanField(default=False, help_text="Strategic accounts can be set to always need review.")
    fit_score = models.FloatField(
        null=True, blank=True, help_text="0–1, learnt from won and lost deals; empty while there are too few."
    )
    fit_summary = models.CharField(max_length=300, blank=True, help_text="The fit score's top factors, with signs.")
    external_id = models.CharField(max_length=200, blank=True, help_text="The account's id in the CRM.")
    traits = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the website's tracking said about the company (Segment group traits), kept apart: "
        "the CRM and the admin own the fields above, the website only fills what is empty.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["owner", "name"], name="account_owner_name_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(arr__gte=0), name="account_arr_non_negative"),
            models.CheckConstraint(condition=Q(domain=Lower("domain")), name="account_domain_lower_case"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower()
        super().save(*args, **kwargs)


class Contact(models.Model):
    class Origin(models.TextChoices):
        """Who vouched for this person being at this account: only the first two are authoritative."""

        CRM = "crm", "CRM sync or import"
        ADMIN = "admin", "Entered by a person"
        SIGNAL = "signal", "A website or webhook signal"
        EMAIL = "email", "An inbound e-mail"

    AUTHORITATIVE_ORIGINS = (Origin.CRM, Origin.ADMIN)

    class Seniority(models.TextChoices):
        C_LEVEL = "c_level", "C-level"
        VP = "vp", "VP"
        DIRECTOR = "director", "Director"
        MANAGER = "manager", "Manager"
        INDIVIDUAL = "individual", "Individual contributor"
        UNKNOWN = "unknown", "Unknown"

    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="contacts",
        help_text="Empty for people on free-mail addresses we could not tie to a company.",
    )
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    seniority = models.CharField(max_length=20, choices=Seniority.choices, default=Seniority.UNKNOWN)
    user_id = models.CharField(
        max_length=200, null=True, blank=True, help_text="The product's user id (Segment userId), if known."
    )
    do_not_contact = models.BooleanField(default=False)
    do_not_contact_reason = models.CharField(max_length=200, blank=True)
    origin = models.CharField(
        max_length=10,
        choices=Origin.choices,
        default=Origin.SIGNAL,
        help_text="Where this person came from. salesai e-mails on its own only people from the CRM or a "
        "person, or at the account's own domain.",
    )
    traits = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the website's tracking said about the person (Segment identify traits), kept apart.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["user_id"], condition=Q(user_id__isnull=False), name="contact_user_id_unique"
            ),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="contact_email_lower_case"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def first_name(self) -> str:
        return self.display_name.split()[0] if self.display_name else ""

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    def is_at_domain(self, domain: str) -> bool:
        """Whether the address is at ``domain`` or one of its subdomains (``ada@eu.acme.com`` → acme.com)."""
        own = self.email_domain
        domain = (domain or "").lower()
        return bool(domain) and (own == domain or own.endswith("." + domain))


class Opportunity(models.Model):
    class Stage(models.TextChoices):
        DISCOVERY = "discovery", "Discovery"
        EVALUATION = "evaluation", "Evaluation"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        WON = "won", "Closed won"
        LOST = "lost", "Closed lost"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    external_id = models.CharField(max_length=200, null=True, blank=True)
    name = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.DISCOVERY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    close_date = models.DateField(null=True, blank=True)
    stage_changed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the deal entered its current stage: from the CRM, else the first time salesai saw it.",
    )
    contacts = models.ManyToManyField(
        Contact, blank=True, related_name="opportunities", help_text="The people involved in the deal."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "opportunities"
        ordering = ["close_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="opportunity_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_stage_display()})"


class Contract(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RENEWED = "renewed", "Renewed"
        CHURNED = "churned", "Churned"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contracts")
    external_id = models.CharField(max_length=200, null=True, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=2, help_text="Annual contract value. Example: 48000")
    start_date = models.DateField(null=True, blank=True)
    renewal_date = models.DateField(db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["renewal_date"]
        indexes = [models.Index(fields=["account", "status", "renewal_date"], name="contract_account_renewal_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="contract_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="contract_value_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account.name}: {self.value} renewing {self.renewal_date}"


class Goal(models.Model):
    """A threshold on a metric of the account's picture. Edge-triggered: it fires once per crossing,
    and re-arms only after the metric falls back across the threshold."""

    class Metric(models.TextChoices):
        SEAT_UTILIZATION = "seat_utilization", "Seat utilisation (active users / seats)"
        ACTIVE_USERS_7D = "active_users_7d", "Active users in 7 days"
        USAGE_EVENTS_7D = "usage_events_7d", "Product-usage events in 7 days"
        PRICING_VISITS_7D = "pricing_visits_7d", "Pricing-page visits in 7 days"
        ENGAGEMENT_SCORE = "engagement_score", "Engagement score"

    class Comparator(models.TextChoices):
        GTE = "gte", "≥"
        LTE = "lte", "≤"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=200, help_text="Example: Seat usage reaches 80%")
    metric = models.CharField(max_length=40, choices=Metric.choices)
    comparator = models.CharField(max_length=3, choices=Comparator.choices, default=Comparator.GTE)
    threshold = models.FloatField(help_text="Example: 0.8 for 80% seat utilisation")
    is_met = models.BooleanField(default=False, help_text="Whether the metric is across the threshold now.")
    last_crossed_at = models.DateTimeField(null=True, blank=True)
    crossings = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["account", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_metric_display()} {self.get_comparator_display()} {self.threshold})"

    def holds_for(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.threshold if self.comparator == self.Comparator.GTE else value <= self.threshold


class AccountPicture(models.Model):
    """The one continuously updated picture of an account, shared by reps and the system.

    ``features`` holds the windowed facts analysis computed (pricing visits in 7 days, last reply and
    its sentiment, unanswered outreach …); the scores are 0–1 with time decay; ``next_check_at`` is
    the earliest moment something time-based may change, and the beat sweep selects on it."""

    account = models.OneToOneField(Account, primary_key=True, on_delete=models.CASCADE, related_name="picture")
    features = models.JSONField(default=dict, blank=True)
    engagement_score = models.FloatField(default=0.0)
    intent_score = models.FloatField(default=0.0)
    risk_score = models.FloatField(default=0.0)
    version = models.PositiveIntegerField(default=0)
    analyzed_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    dirty_since = models.DateTimeField(
        null=True, blank=True, help_text="Set when new signals arrived and analysis has not yet caught up."
    )

    class Meta:
        indexes = [
            models.Index(fields=["next_check_at"], name="picture_next_check_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(engagement_score__gte=0, engagement_score__lte=1)
                & Q(intent_score__gte=0, intent_score__lte=1)
                & Q(risk_score__gte=0, risk_score__lte=1),
                name="picture_scores_in_unit_range",
            )
        ]

    def __str__(self) -> str:
        return f"Picture of {self.account.name} (v{self.version})"


class RepProfile(models.Model):
    """Per-user preferences: time zone for the morning digest, and which notices to send."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep_profile")
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA name. Example: Europe/Berlin")
    digest_enabled = models.BooleanField(default=True)
    digest_hour = models.PositiveSmallIntegerField(default=8, help_text="Local hour of the morning digest (0–23).")
    urgent_notices_enabled = models.BooleanField(default=True)
    last_digest_sent_on = models.DateField(null=True, blank=True)
    undo_seconds = models.PositiveSmallIntegerField(
        default=30,
        help_text="How long an approved e-mail waits before it goes out, so it can be undone (0–120 seconds). "
        "Example: 30",
    )
    signature = models.TextField(
        blank=True,
        max_length=500,
        help_text="How drafts written for this person end. Example: Ines Moreau, Account Executive, +49 30 1234",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(digest_hour__lte=23), name="rep_profile_digest_hour_valid"),
            models.CheckConstraint(condition=Q(undo_seconds__lte=120), name="rep_profile_undo_seconds_max_120"),
        ]

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class AssignmentRule(models.Model):
    """How an account that arrives without an owner (a new lead's company, a CRM row without one) gets
    a rep: the first active rule that matches, in order, picks the next of its reps in turn."""

    class Kind(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round-robin among reps (every account)"
        DOMAIN = "domain", "By domain (ending with)"
        SEGMENT = "segment", "By segment"

    name = models.CharField(max_length=100, help_text="Example: German companies to the DACH team")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ROUND_ROBIN)
    match = models.CharField(
        max_length=100,
        blank=True,
        help_text="By domain: how the domain ends (example: .de or acme.com). By segment: smb, mid_market or "
        "enterprise. Round-robin: leave empty.",
    )
    reps = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", help_text="The reps who take turns on matching accounts."
    )
    position = models.PositiveSmallIntegerField(default=10, help_text="Rules are tried in this order, lowest first.")
    active = models.BooleanField(default=True)
    last_index = models.IntegerField(default=-1, editable=False, help_text="Whose turn it was last (bookkeeping).")

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = "assignment rule"

    def __str__(self) -> str:
        return self.name

    def matches(self, account: Account) -> bool:
        match = self.match.strip().lower()
        if self.kind == self.Kind.DOMAIN:
            return bool(match) and account.domain.lower().endswith(match)
        if self.kind == self.Kind.SEGMENT:
            return account.segment == match
        return True


class OpportunityChange(models.Model):
    """One observed change of a deal's stage, close date or status: the stage history the deal
    playbooks read (time in stage, the won deals' stage norms, how often the close date moved out).

    ``changed_at`` is when it happened: the CRM's ``stage_changed_at`` when it sent one, else the
    moment salesai first saw the new value."""

    class Field(models.TextChoices):
        STAGE = "stage", "Stage"
        CLOSE_DATE = "close_date", "Close date"
        STATUS = "status", "Status"

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=20, choices=Field.choices)
    old_value = models.CharField(max_length=40, blank=True)
    new_value = models.CharField(max_length=40, blank=True)
    changed_at = models.DateTimeField()
    reported_by_crm = models.BooleanField(
        default=False, help_text="The CRM said when (stage_changed_at); otherwise salesai saw it then."
    )

    class Meta:
        ordering = ["opportunity", "changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "field", "changed_at"], name="opp_change_field_idx")]

    def __str__(self) -> str:
        return f"{self.opportunity_id} {self.field}: {self.old_value or '—'} → {self.new_value}"
