"""The append-only audit trail: who did what, when, with what data (secrets masked).

The lowest room of the house: every app may write here, nothing here imports our apps."""

from __future__ import annotations

from django.conf import settings
from django.db import models

APPEND_ONLY = "Audit events are append-only."


class AuditEventQuerySet(models.QuerySet):
    """Reads and inserts only: a bulk update or delete would rewrite history as surely as one row's."""

    def update(self, **kwargs):
        raise PermissionError(APPEND_ONLY)

    def bulk_update(self, objs, fields, batch_size=None):
        raise PermissionError(APPEND_ONLY)

    def delete(self):
        raise PermissionError(APPEND_ONLY)


class AuditEvent(models.Model):
    action = models.CharField(max_length=100, db_index=True, help_text="Dotted name, e.g. recommendation.approved")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="'system' or the user name at the time.")
    reference = models.CharField(max_length=100, blank=True, db_index=True, help_text="e.g. recommendation:42")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.reference} by {self.actor_label or 'system'}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(APPEND_ONLY)
