"""What the world told us: sources (webhook credentials) and the signals they sent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Source(models.Model):
    class Kind(models.TextChoices):
        SEGMENT = "segment", "Segment / RudderStack"
        GENERIC = "generic", "Signed generic webhook"
        EMAIL = "email", "Inbound e-mail"
        CRM = "crm", "CRM sync"
        INTERNAL = "internal", "salesai itself"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    write_key_hash = models.CharField(
        max_length=64, unique=True, help_text="SHA-256 of the write key; the key itself is shown once at creation."
    )
    write_key_prefix = models.CharField(max_length=12, blank=True, help_text="First characters, to recognise a key.")
    signing_secret = models.CharField(
        max_length=200, blank=True, help_text="Standard Webhooks secret (whsec_…) for signed generic webhooks."
    )
    event_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Track event name → signal kind, added to the defaults. Example: {"Demo Requested": "form_submitted"}',
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute before 429; empty = the installation default."
    )
    trusted_traits = models.BooleanField(
        "trusted to update records",
        default=False,
        help_text="Let this source's identify and group traits overwrite account names, plan and seats and "
        "contact names and titles, and tie user ids to people already known. Only for a server-side source "
        "whose write key never leaves your servers: never for a key in a website snippet or a mobile app "
        "(anyone can read it there; calls from browser and mobile libraries are never trusted). Off: "
        "traits only fill empty fields and are kept as what the website said. No source moves a person "
        "into an account of another domain: only the CRM does.",
    )
    accounts_per_hour = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="New accounts this source's signals may create per hour; beyond it their signals are still "
        "stored, without an account, until a later call finds or may create it. Empty = the installation "
        "default (SALESAI_ACCOUNTS_PER_SOURCE_PER_HOUR). Example: 200",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Signal(models.Model):
    class Kind(models.TextChoices):
        PAGE_VIEW = "page_view", "Page view"
        FORM_SUBMITTED = "form_submitted", "Form submitted"
        PRODUCT_USAGE = "product_usage", "Product usage"
        EMAIL_SENT = "email_sent", "Outreach e-mail sent"
        EMAIL_REPLY = "email_reply", "E-mail reply"
        EMAIL_BOUNCED = "email_bounced", "E-mail bounced"
        MEETING_BOOKED = "meeting_booked", "Meeting booked"
        CRM_UPDATED = "crm_updated", "CRM updated"
        IDENTIFY = "identify", "Identified"
        GROUP = "group", "Grouped"
        CUSTOM = "custom", "Custom event"

    class Intent(models.TextChoices):
        INTERESTED = "interested", "Interested"
        QUESTION = "question", "Question"
        OBJECTION = "objection", "Objection"
        NOT_NOW = "not_now", "Not now"
        NOT_INTERESTED = "not_interested", "Not interested"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe"
        REFERRAL = "referral", "Referral to another person"
        WRONG_PERSON = "wrong_person", "Wrong person"
        AUTO_REPLY = "auto_reply", "Out-of-office / auto-reply"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="signals")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True, help_text="The event name as sent (track events).")
    external_id = models.CharField(max_length=200, help_text="The sender's id (messageId, webhook-id); dedupes.")
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="signals"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="signals"
    )
    user_id = models.CharField(max_length=200, blank=True)
    anonymous_id = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)
    # e-mail
    message_id = models.CharField(max_length=500, blank=True, help_text="RFC 5322 Message-ID of this e-mail.")
    in_reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        help_text="For a reply: the outreach e-mail it answers.",
    )
    intent = models.CharField(max_length=20, choices=Intent.choices, blank=True)
    intent_confidence = models.FloatField(null=True, blank=True)
    sentiment = models.FloatField(null=True, blank=True, help_text="VADER compound score, −1 to +1.")
    is_auto_reply = models.BooleanField(default=False)
    is_bot = models.BooleanField(
        default=False,
        db_default=False,
        help_text="An automated visitor (crawler, mail gateway's link scanner): stored, left out of analysis.",
    )

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="signal_external_id_unique_per_source"),
        ]
        indexes = [
            models.Index(fields=["account", "kind", "occurred_at"], name="signal_account_kind_time_idx"),
            models.Index(fields=["account", "occurred_at"], name="signal_account_time_idx"),
            models.Index(fields=["received_at"], condition=Q(analyzed_at__isnull=True), name="signal_unanalysed_idx"),
            # every analysis reads its account's un-analysed signals first
            models.Index(
                fields=["account"], condition=Q(analyzed_at__isnull=True), name="signal_account_unanalysed_idx"
            ),
            models.Index(
                fields=["anonymous_id"],
                condition=Q(contact__isnull=True) & ~Q(anonymous_id=""),
                name="signal_anon_unresolved_idx",
            ),
            models.Index(fields=["message_id"], condition=~Q(message_id=""), name="signal_message_id_idx"),
            models.Index(
                fields=["source", "user_id"],
                condition=Q(contact__isnull=True) & ~Q(user_id=""),
                name="signal_user_unresolved_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name or ''} at {self.occurred_at:%Y-%m-%d %H:%M}".strip()


class AnonymousIdentity(models.Model):
    """A visitor's anonymousId tied to a person once they identify (for back-filling page views)."""

    anonymous_id = models.CharField(max_length=200, unique=True)
    contact = models.ForeignKey("accounts.Contact", on_delete=models.CASCADE, related_name="anonymous_ids")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "anonymous identities"

    def __str__(self) -> str:
        return f"{self.anonymous_id} → {self.contact}"


class QuarantinedPayload(models.Model):
    """Anything a client sent that we refused for its content, kept so nothing is silently dropped."""

    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="quarantined")
    endpoint = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    error_code = models.CharField(max_length=50)
    errors = models.JSONField(default=dict, blank=True)
    payload = models.TextField(blank=True, help_text="The raw body as received (decoded, capped).")
    item_index = models.IntegerField(null=True, blank=True, help_text="Index within a batch, when one item failed.")

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.error_code} at {self.received_at:%Y-%m-%d %H:%M}"


class GroupIdentity(models.Model):
    """A Segment ``groupId`` tied to the account a ``group`` call named, so later events find it."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="group_identities")
    group_id = models.CharField(max_length=200)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="group_identities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "group identities"
        constraints = [models.UniqueConstraint(fields=["source", "group_id"], name="group_identity_unique_per_source")]

    def __str__(self) -> str:
        return f"{self.group_id} → {self.account}"


class AccountCreation(models.Model):
    """An account a source's signals created: where a company came from, and how many new ones a
    source made in the last hour (``Source.accounts_per_hour`` caps it; a public write key could
    otherwise invent thousands)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="account_creations")
    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="creation")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["source", "created_at"], name="account_creation_recent_idx")]

    def __str__(self) -> str:
        return f"{self.account} created by {self.source.name}"


class WebhookDelivery(models.Model):
    """A Standard Webhooks ``webhook-id`` seen from a source: replay protection and idempotent retries.

    Stored in the same transaction as the signals of the delivery, so a retry of a delivery we stored
    answers "already received" and a replayed one stores nothing."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["source", "webhook_id"], name="webhook_delivery_unique_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.source.name}: {self.webhook_id}"


class DomainRule(models.Model):
    """An operator's override of the free-mail/disposable lists for one e-mail domain."""

    class Treatment(models.TextChoices):
        BUSINESS = "business", "Business: may create and find an account"
        PERSONAL = "personal", "Personal / free-mail: never creates an account"

    domain = models.CharField(max_length=253, unique=True, help_text="Lower case. Example: gmx.net")
    treatment = models.CharField(max_length=10, choices=Treatment.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]
        constraints = [models.CheckConstraint(condition=Q(domain=Lower("domain")), name="domain_rule_lower_case")]

    def __str__(self) -> str:
        return f"{self.domain}: {self.get_treatment_display()}"

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower()
        super().save(*args, **kwargs)
