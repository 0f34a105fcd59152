"""Routing recommendations through trust, and what people decide about them.

Public contract (used by the engine's composer, the API and the inbox):
- ``route_recommendation(*, recommendation)``: ask ``trust.decide`` and set the status to ``pending``
  (a person decides) or ``scheduled`` (autonomous, after the undo window).
- ``approve_recommendation(*, recommendation, user, subject=None, body=None)``: record the review
  (edited when the draft changed), then execute through the one executor.
- ``reject_recommendation(*, recommendation, user, reason, reason_text="")``
- ``snooze_recommendation(*, recommendation, user, until)``
- ``cancel_scheduled(*, recommendation, user)``: undo an autonomous action inside its window.
"""

from __future__ import annotations

from recommendations.models import Recommendation


def route_recommendation(*, recommendation: Recommendation) -> Recommendation:
    """Until the trust model is wired in, every recommendation waits for a person."""
    if recommendation.status != Recommendation.Status.PENDING:
        recommendation.status = Recommendation.Status.PENDING
        recommendation.save(update_fields=["status"])
    return recommendation
