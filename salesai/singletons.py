"""Settings kept as one row a manager edits in the admin (an outreach policy, a learning policy)."""

from __future__ import annotations

from django.db import models


class OneRow(models.Model):
    """An abstract settings table of one row: :meth:`current` reads it, creating it with the field
    defaults on first use, so code never has to ask whether a manager saved it yet."""

    class Meta:
        abstract = True

    @classmethod
    def current(cls):
        row = cls.objects.order_by("pk").first()
        return row if row is not None else cls.objects.create()
