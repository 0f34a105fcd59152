"""Routing recommendations through trust, and what people decide about them.

Public contract (used by the engine's composer, the API and the inbox):
- ``route_recommendation(*, recommendation)``: ask ``trust.decide`` and set the status to ``pending``
  (a person decides) or ``scheduled`` (autonomous, after the undo window).
- ``approve_recommendation(*, recommendation, user, version, subject=None, body=None)``: record the
  review of the version the person saw (edited when the draft changed), then execute through the one
  executor. A stale ``version`` raises :class:`StaleVersion` (409) and approves nothing.
- ``reject_recommendation(*, recommendation, user, reason, reason_text="")``
- ``snooze_recommendation(*, recommendation, user, until)``
- ``cancel_scheduled(*, recommendation, user)``: undo a scheduled action (a person's approval or
  autopilot's) inside its window; after the window it is refused (409 ``undo_window_closed``).

Each is one transaction with its audit row and raises a :class:`ReviewError` (a ``DomainError``, so the
API answers 409 in the one error shape) when the transition is not allowed.

Approving does not send inside the request: it marks the recommendation ``scheduled`` for *now plus
the person's undo window* (``RepProfile.undo_seconds``, 0–120 s, default 30) and queues the executor
for that moment on commit; ``cancel_scheduled`` inside the window puts it back to ``pending`` and
nothing is sent. The executor's beat sweep (``recommendations.execute_due_actions``) is the safety
net if that message is lost. Whether an execution is autonomous is decided by the data: a
recommendation with an approving review *of its current version and recipient* is a person's decision
(``selectors.approved_by_person``); an approval of another version is nobody's, and the executor sends
it back to review instead of sending.

Whom salesai may e-mail on its own (``selectors.unvouched_recipient``): a contact at the account's own
domain, or one the CRM or a person vouched for. Anyone else (a person an inbound e-mail or a public
tracking key introduced) needs a person, checked when routing and again at execution.
"""

from __future__ import annotations

import datetime as dt
import difflib

from django.db import transaction

from accounts.models import Contact
from accounts.selectors import undo_seconds_for
from audit.services import audit_record
from recommendations import jobs
from recommendations.models import Execution, Recommendation, Review
from recommendations.selectors import approved_by_person, recipient_of, unvouched_recipient
from recommendations.services import caps, compliance
from salesai import clock
from salesai.api_errors import DomainError
from salesai.text import has_line_break
from trust import services as trust
from trust.models import Outcome, TrustDecision


class ReviewError(DomainError):
    """A review action that the recommendation's state does not allow (e.g. approving an executed one)."""

    status_code = 409
    code = "invalid_transition"


class StaleVersion(ReviewError):
    """The person decided on a version that is no longer the current one: nothing was recorded.
    ``current`` is the recommendation as it is now, for the caller to show."""

    code = "stale_version"

    def __init__(self, *, seen: int, current: Recommendation):
        super().__init__(
            f"This recommendation changed since you saw it (you saw version {seen}, it is now version "
            f"{current.version}): review the current version before approving.",
            fields={"version": f"Stale: the current version is {current.version}."},
        )
        self.current = current


def _reference(recommendation: Recommendation) -> str:
    return f"recommendation:{recommendation.pk}"


def locked(recommendation: Recommendation) -> Recommendation:
    """Re-read under a row lock, with its account and contact (callers copy back what changed: ``_sync``)."""
    fresh = (
        Recommendation.objects.select_for_update(of=("self",))
        .select_related("account", "contact")
        .get(pk=recommendation.pk)
    )
    return fresh


def _sync(target: Recommendation, source: Recommendation) -> None:
    for field in (
        "status",
        "scheduled_for",
        "snoozed_until",
        "trust_decision_id",
        "closed_reason",
        "updated_at",
        "version",
        "awaiting_polish",
        "held_until",
        "entered_inbox_at",
        "held_reason",
    ):
        setattr(target, field, getattr(source, field))
    target.draft_subject, target.draft_body = source.draft_subject, source.draft_body


def edit_ratio(before: str, after: str) -> float:
    """Share of the draft an edit changed: 1 − difflib's similarity ratio (0 = unchanged, 1 = rewritten)."""
    if before == after:
        return 0.0
    return round(1.0 - difflib.SequenceMatcher(None, before, after, autojunk=False).ratio(), 4)


def route_recommendation(
    *,
    recommendation: Recommendation,
    new: bool = False,
    c_level: bool | None = None,
    review_reasons: tuple[str, ...] = (),
) -> Recommendation:
    """Ask trust whether the system may act alone; set ``pending`` or ``scheduled`` (undo window).

    A recommendation already ``scheduled`` keeps its decision and its countdown (re-routing on every
    material update would restart the undo window or flip it back to review under the user's eyes);
    closed ones are left alone. ``new``: the caller created it in its still-open transaction, so no one
    else can see it yet; no need to lock it, look for reviews or open a savepoint. ``c_level``: the
    contact's seniority when the caller knows it already. ``review_reasons``: the caller's own reasons
    for a person's eyes (kept among the decision's reasons), besides :func:`unvouched_recipient`."""
    with transaction.atomic(savepoint=not new):
        rec = recommendation if new else locked(recommendation)
        cancelled_before = not new and rec.reviews.filter(decision=Review.Decision.CANCELLED).exists()
        if rec.status not in (Recommendation.Status.PENDING, Recommendation.Status.HELD):
            _sync(recommendation, rec)
            return recommendation
        now = clock.now()
        # a contact or account cap holds it (a held one is back here when released)
        held = caps.admission_hold(recommendation=rec, now=now)
        if held is not None:
            caps.hold_recommendation(recommendation=rec, hold=held, now=now)
            _sync(recommendation, rec)
            return recommendation
        was_held = rec.status == Recommendation.Status.HELD
        # about to come to its rep (new, or back from a hold), not already awaiting them: the rep's daily
        # budget applies if it ends up awaiting a person
        entering = was_held or rec.entered_inbox_at is None
        if cancelled_before:
            # a person cancelled autopilot on this one: it stays with people
            if was_held:
                over = caps.budget_hold(recommendation=rec, now=now)
                if over is not None:
                    caps.hold_recommendation(recommendation=rec, hold=over, now=now)
                else:
                    _release_to_review(rec, now=now)
            _sync(recommendation, rec)
            return recommendation
        if c_level is None:
            c_level = bool(rec.contact_id and rec.contact.seniority == Contact.Seniority.C_LEVEL)
        recipient_reason = unvouched_recipient(rec)
        paused = compliance.reply_pause_reason(rec, now)  # a person replied: a rep answers, not autopilot
        decision = trust.decide(
            domain=rec.action_type,
            stakes=rec.stakes,
            strategic=bool(rec.account.strategic),
            c_level=c_level,
            reference=_reference(rec),
            review_reasons=(*review_reasons, *(reason for reason in (recipient_reason, paused) if reason)),
        )
        rec.trust_decision = decision
        rec.awaiting_polish = False
        over_budget = None
        if decision.verdict == TrustDecision.Verdict.AUTONOMOUS:
            policy = trust.policy_for(rec.action_type)
            rec.status = Recommendation.Status.SCHEDULED
            rec.scheduled_for = now + dt.timedelta(minutes=policy.undo_window_minutes)
        else:
            over_budget = caps.budget_hold(recommendation=rec, now=now) if entering else None
            rec.status = Recommendation.Status.HELD if over_budget else Recommendation.Status.PENDING
            rec.scheduled_for = None
        rec.held_until, rec.held_reason = (over_budget.until, over_budget.reason[:300]) if over_budget else (None, "")
        if rec.status == Recommendation.Status.PENDING and entering:
            rec.entered_inbox_at = now
        rec.updated_at = now
        rec.save(
            update_fields=[
                "trust_decision",
                "awaiting_polish",
                "status",
                "scheduled_for",
                "held_until",
                "held_reason",
                "entered_inbox_at",
                "updated_at",
            ]
        )
        if over_budget:
            audit_record(
                action="recommendation.held",
                reference=_reference(rec),
                data={"until": over_budget.until.isoformat(), "reason": over_budget.reason},
            )
        elif was_held:
            audit_record(action="recommendation.released", reference=_reference(rec), data={})
        audit_record(
            action="recommendation.scheduled"
            if rec.status == Recommendation.Status.SCHEDULED
            else "recommendation.routed",
            reference=_reference(rec),
            data={
                "verdict": decision.verdict,
                "would_be_autonomous": decision.would_be_autonomous,
                "scheduled_for": rec.scheduled_for.isoformat() if rec.scheduled_for else None,
                "reasons": decision.reasons,
            },
        )
    _sync(recommendation, rec)
    return recommendation


def _release_to_review(rec: Recommendation, *, now: dt.datetime) -> None:
    """A released hold that people must decide on: back in the inbox."""
    rec.status = Recommendation.Status.PENDING
    rec.held_until, rec.held_reason = None, ""
    rec.entered_inbox_at = rec.updated_at = now
    rec.save(update_fields=["status", "held_until", "held_reason", "entered_inbox_at", "updated_at"])
    audit_record(action="recommendation.released", reference=_reference(rec), data={})


SUBJECT_LINE_BREAK = "A subject is one line: remove the line breaks and other control characters."


def approve_recommendation(
    *,
    recommendation: Recommendation,
    user,
    version: int,
    subject: str | None = None,
    body: str | None = None,
) -> Recommendation:
    """A person approves ``version``, the one they saw (edited when the draft changed): the review, its
    trust label, then the executor.

    A stale ``version`` approves nothing (:class:`StaleVersion`): what the person judged is what is
    sent, or nothing is. An edited subject with a line break is refused before anything is recorded
    (it could never be sent, and must not count in the track record). An edit makes a new version,
    the one the review binds. The edit ratio compares subject + body before and after; the policy's
    ``minor_edit_max_ratio`` decides whether the edit still counts as a success for the track record."""
    if subject is not None and has_line_break(subject.strip()):
        raise ReviewError(SUBJECT_LINE_BREAK, code="invalid", status_code=400, fields={"subject": SUBJECT_LINE_BREAK})
    with transaction.atomic():
        rec = locked(recommendation)
        if rec.status not in (Recommendation.Status.PENDING, Recommendation.Status.SNOOZED):
            raise ReviewError(
                f"This recommendation is {rec.get_status_display().lower()}; only one awaiting review can be approved."
            )
        if rec.version != version:
            raise StaleVersion(seen=version, current=rec)
        now = clock.now()
        new_subject = rec.draft_subject if subject is None else subject.strip()
        new_body = rec.draft_body if body is None else body.strip()
        ratio = edit_ratio(f"{rec.draft_subject}\n{rec.draft_body}", f"{new_subject}\n{new_body}")
        edited = ratio > 0
        if edited:
            rec.version += 1
        Review.objects.create(
            recommendation=rec,
            reviewer=user,
            decision=Review.Decision.EDITED if edited else Review.Decision.APPROVED,
            edited_subject=new_subject if edited else "",
            edited_body=new_body if edited else "",
            edit_ratio=ratio,
            version=rec.version,
            recipient=recipient_of(rec),
            created_at=now,
        )
        kind = trust.review_outcome_kind(domain=rec.action_type, decision="approved", edit_ratio=ratio)
        trust.record_outcome(
            domain=rec.action_type, kind=kind, reference=_reference(rec), autonomous=False, occurred_at=now
        )
        rec.draft_subject, rec.draft_body = new_subject, new_body
        undo_seconds = undo_seconds_for(user)
        rec.status = Recommendation.Status.SCHEDULED
        rec.scheduled_for = now + dt.timedelta(seconds=undo_seconds)
        rec.snoozed_until = None
        rec.updated_at = now
        rec.save(
            update_fields=[
                "draft_subject",
                "draft_body",
                "version",
                "status",
                "scheduled_for",
                "snoozed_until",
                "updated_at",
            ]
        )
        audit_record(
            action="recommendation.edited" if edited else "recommendation.approved",
            actor=user,
            reference=_reference(rec),
            data={
                "edit_ratio": ratio,
                "trust_outcome": kind,
                "version": rec.version,
                "recipient": recipient_of(rec),
                "undo_seconds": undo_seconds,
            },
        )
        jobs.enqueue_on_commit_after(
            jobs.EXECUTE_RECOMMENDATION, undo_seconds, recommendation_id=rec.pk, autonomous=False, user_id=user.pk
        )
    _sync(recommendation, rec)
    return recommendation


def reject_recommendation(
    *, recommendation: Recommendation, user, reason: str, reason_text: str = ""
) -> Recommendation:
    """A person rejects: a failure in the domain's record, with the reason kept."""
    if reason not in Review.RejectReason.values:
        raise ReviewError(
            f"Unknown reason {reason!r}.", code="invalid", status_code=400, fields={"reason": "Not a valid choice."}
        )
    with transaction.atomic():
        rec = locked(recommendation)
        if rec.status not in (Recommendation.Status.PENDING, Recommendation.Status.SNOOZED):
            raise ReviewError(
                f"This recommendation is {rec.get_status_display().lower()}; only one awaiting review can be rejected."
            )
        now = clock.now()
        Review.objects.create(
            recommendation=rec,
            reviewer=user,
            decision=Review.Decision.REJECTED,
            reason=reason,
            reason_text=reason_text,
            created_at=now,
        )
        trust.record_outcome(
            domain=rec.action_type,
            kind=Outcome.Kind.REJECTED,
            reference=_reference(rec),
            autonomous=False,
            occurred_at=now,
        )
        rec.status = Recommendation.Status.REJECTED
        rec.closed_reason = Review.RejectReason(reason).label + (f": {reason_text}" if reason_text else "")
        rec.closed_reason = rec.closed_reason[:300]
        rec.updated_at = now
        rec.save(update_fields=["status", "closed_reason", "updated_at"])
        audit_record(
            action="recommendation.rejected",
            actor=user,
            reference=_reference(rec),
            data={"reason": reason, "reason_text": reason_text},
        )
    _sync(recommendation, rec)
    return recommendation


def snooze_recommendation(*, recommendation: Recommendation, user, until: dt.datetime) -> Recommendation:
    """Put it aside until ``until`` (not a label for the record: snoozing says nothing about quality)."""
    now = clock.now()
    if until <= now:
        raise ReviewError(
            "Snooze until a moment in the future.",
            code="invalid",
            status_code=400,
            fields={"until": "Must be in the future."},
        )
    with transaction.atomic():
        rec = locked(recommendation)
        if rec.status not in (Recommendation.Status.PENDING, Recommendation.Status.SNOOZED):
            raise ReviewError(
                f"This recommendation is {rec.get_status_display().lower()}; only one awaiting review can be snoozed."
            )
        Review.objects.create(
            recommendation=rec, reviewer=user, decision=Review.Decision.SNOOZED, snoozed_until=until, created_at=now
        )
        rec.status = Recommendation.Status.SNOOZED
        rec.snoozed_until = until
        rec.updated_at = now
        rec.save(update_fields=["status", "snoozed_until", "updated_at"])
        audit_record(
            action="recommendation.snoozed", actor=user, reference=_reference(rec), data={"until": until.isoformat()}
        )
    _sync(recommendation, rec)
    return recommendation


def cancel_scheduled(*, recommendation: Recommendation, user) -> Recommendation:
    """Undo a scheduled action inside its window: nothing is sent, and it goes back to review.
    Once the window has closed (``scheduled_for`` passed) the executor owns it: refused.

    For an autonomous action this is an UNDONE outcome (a failure in the record); cancelling a
    person's own approval before it ran is not a label. Refused once the executor has claimed it."""
    with transaction.atomic():
        rec = locked(recommendation)
        if rec.status != Recommendation.Status.SCHEDULED:
            raise ReviewError(
                f"This recommendation is {rec.get_status_display().lower()}; only a scheduled one can be cancelled."
            )
        if rec.executions.exclude(status=Execution.Status.FAILED).exists():
            raise ReviewError("Too late: this action is being performed right now.", code="already_executing")
        now = clock.now()
        if rec.scheduled_for is not None and rec.scheduled_for <= now:
            raise ReviewError(
                f"Too late to undo: its window closed at {rec.scheduled_for:%H:%M:%S} UTC and it is being sent.",
                code="undo_window_closed",
            )
        autonomous = not approved_by_person(rec)
        Review.objects.create(recommendation=rec, reviewer=user, decision=Review.Decision.CANCELLED, created_at=now)
        if autonomous:
            trust.record_outcome(
                domain=rec.action_type,
                kind=Outcome.Kind.UNDONE,
                reference=_reference(rec),
                autonomous=True,
                occurred_at=now,
            )
        rec.status = Recommendation.Status.PENDING
        rec.scheduled_for = None
        rec.entered_inbox_at = rec.entered_inbox_at or now  # autopilot's, until now: it awaits the rep
        rec.updated_at = now
        rec.save(update_fields=["status", "scheduled_for", "entered_inbox_at", "updated_at"])
        audit_record(
            action="recommendation.cancelled",
            actor=user,
            reference=_reference(rec),
            data={"autonomous": autonomous},
        )
    _sync(recommendation, rec)
    return recommendation
