"""The executor: performs an approved or autonomous action exactly once.

Exactly once, by the data (CONVENTIONS.md 5):
1. *Claim.* In one transaction, under a row lock on the recommendation, create the ``Execution`` row
   whose unique ``idempotency_key`` is ``rec:{id}:v{version}`` — with the e-mail's Message-ID already
   in it — and COMMIT, before any side effect. A duplicated or retried task finds the key taken.
2. *Act.* Outside any transaction, send the e-mail through Django's e-mail backend.
3. *Finish.* Mark the execution succeeded, the recommendation executed, and record an ``email_sent``
   signal (whose Message-ID replies thread to), with the audit row, in one transaction.

A task killed between 1 and 3 leaves a CLAIMED row, and we cannot know whether the SMTP server took
the message. The choice here is "never twice": a CLAIMED execution is never sent again. While it is
younger than the task time limit another worker may still be sending, so the retry just leaves it;
once older (``stale_claim_after()``), the sweep marks it FAILED "interrupted — check before resending",
the recommendation FAILED with that reason, and a person decides (the stored Message-ID lets them look
it up in the mail server's log). The only case released for a retry is a failure to *connect* to the
mail server, when provably nothing was sent.

The kill switch, a pause, review-only and a demotion are re-checked at execution time for autonomous
actions: a scheduled action they stop goes back to review (``pending``) with the reason kept. So is
the recipient (only people at the account's domain or vouched for by the CRM or a person are e-mailed
on autonomy). An action a person approved is sent only as approved: the same version (subject and
body) to the same recipient; an approval of anything else is not a person's decision about what
would be sent, so the action goes back to review rather than being sent on that approval.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction

from audit.services import audit_record
from recommendations.models import Execution, Recommendation
from recommendations.selectors import approval_matches, latest_approval, unvouched_recipient
from recommendations.services import caps, compliance
from recommendations.services.outgoing import outgoing_for
from salesai import clock
from signals.sources import internal_source
from signals.storing import record_signal
from trust import services as trust

logger = logging.getLogger(__name__)

DUE_BATCH = 100
_CONNECT_ERRORS = (ConnectionError, smtplib.SMTPConnectError, socket.timeout, socket.gaierror)


class NothingSent(Exception):
    """Connecting to the mail server failed: provably nothing left, so the claim can be released."""


def idempotency_key(recommendation: Recommendation) -> str:
    """One execution per recommendation version: a retried or duplicated task finds the key taken."""
    return f"rec:{recommendation.pk}:v{recommendation.version}"


def stale_claim_after() -> dt.timedelta:
    """A CLAIMED execution older than this was interrupted (beyond the hard time limit of any task)."""
    return dt.timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 180) or 180) + 60)


def _reference(rec: Recommendation) -> str:
    return f"recommendation:{rec.pk}"


def _mail_domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] if "@" in address else "salesai.localhost"


def _build_message(
    rec: Recommendation, message_id: str, *, autonomous: bool = False
) -> tuple[EmailMessage | None, str, dict]:
    """The e-mail to send, or (None, reason) when it must not be sent: exactly what the inbox showed
    (``services.outgoing``). A customer e-mail carries the unsubscribe headers; one sent on autonomy,
    the AI-disclosure line when the admin turned it on."""
    out = outgoing_for(rec)
    if not out.can_send:
        return None, out.refusal, {}
    headers = {"Message-ID": message_id, "X-Salesai-Recommendation": str(rec.pk)}
    message = EmailMessage(
        subject=out.subject,
        body=compliance.with_disclosure(out.body, autonomous=autonomous) if out.kind == "email" else out.body,
        from_email=out.from_header,
        to=out.to,
        cc=out.cc,
        reply_to=[out.reply_to] if out.reply_to else None,
        headers={**headers, **compliance.unsubscribe_headers(rec.contact)} if out.kind == "email" else headers,
    )
    if out.kind == "email":
        return message, "", {"kind": "email", "to": out.to_addresses, "from": out.reply_to}
    return message, "", {"kind": "internal_notice", "to": out.to, "cc": out.cc}


def _claim(recommendation_id: int, *, autonomous: bool, user_id: int | None) -> tuple[Execution | None, str]:
    """Step 1, committed before anything is sent. Returns (execution to perform, why-not)."""
    with transaction.atomic():
        rec = (
            Recommendation.objects.select_for_update(of=("self",))
            .select_related("account", "account__owner", "contact")
            .filter(pk=recommendation_id)
            .first()
        )
        if rec is None:
            return None, "gone"
        key = idempotency_key(rec)
        # One recommendation acts once, whatever its version: a stale writer that bumped the version or
        # put the status back to "scheduled" after the send must not cause a second one.
        existing = (
            rec.executions.exclude(status=Execution.Status.FAILED).order_by("-claimed_at").first()
            or Execution.objects.filter(idempotency_key=key).first()
        )
        if existing is not None:
            return None, _handle_existing(rec, existing)
        if rec.status != Recommendation.Status.SCHEDULED:
            return None, f"status is {rec.status}"
        now = clock.now()
        if rec.scheduled_for and rec.scheduled_for > now:
            return None, "not due yet"
        approval = latest_approval(rec)
        if approval is not None and not approval_matches(rec, approval):
            reason = (
                f"Not sent: it changed after it was approved (version {approval.version} to "
                f"{approval.recipient or 'nobody'} was approved; now version {rec.version}). Review it again."
            )
            return None, _back_to_review(rec, reason, now=now)
        autonomous = approval is None  # the data decides, whatever the caller believed
        if autonomous:
            permission = trust.autonomy_allowed(
                rec.action_type,
                stakes=rec.stakes,
                strategic=bool(rec.account.strategic),
                c_level=bool(rec.contact and rec.contact.seniority == "c_level"),
            )
            recipient_problem = unvouched_recipient(rec)
            if not permission.allowed:
                return None, _back_to_review(rec, f"Not sent on its own: {permission.reason}", now=now)
            if recipient_problem:
                return None, _back_to_review(rec, f"Not sent on its own. {recipient_problem}.", now=now)
            paused = compliance.reply_pause_reason(rec, now)
            if paused:
                return None, _back_to_review(rec, f"Not sent on its own. {paused}", now=now)
        over_cap = caps.send_hold(recommendation=rec, now=now, approved=not autonomous)
        if over_cap is not None:  # e-mails sent since it was offered filled a cap: an approval cannot break it
            caps.hold_recommendation(recommendation=rec, hold=over_cap, now=now)
            return None, f"held: {over_cap.reason}"
        window = compliance.send_window(rec, now)
        if window > now:  # outside the contact's working hours: it waits for the next start
            rec.scheduled_for, rec.updated_at = window, now
            rec.save(update_fields=["scheduled_for", "updated_at"])
            audit_record(
                action="recommendation.deferred", reference=_reference(rec), data={"until": window.isoformat()}
            )
            return None, f"outside working hours: deferred to {window.isoformat()}"
        owner = rec.account.owner
        domain = _mail_domain(owner.email if owner is not None and owner.email else settings.DEFAULT_FROM_EMAIL)
        # Short enough that the header is never folded (some clients copy a folded id badly into
        # In-Reply-To); unique by the idempotency key plus randomness.
        message_id = f"<{key.replace(':', '.')}.{secrets.token_hex(6)}@{domain}>"
        execution = Execution.objects.create(
            recommendation=rec,
            idempotency_key=key,
            status=Execution.Status.CLAIMED,
            autonomous=autonomous,
            performed_by=approval.reviewer if approval else None,
            message_id=message_id,
            claimed_at=now,
        )
        audit_record(
            action="recommendation.execution_claimed",
            actor=approval.reviewer if approval else None,
            reference=_reference(rec),
            data={"idempotency_key": key, "message_id": message_id, "autonomous": autonomous},
        )
    return execution, ""


def _back_to_review(rec: Recommendation, reason: str, *, now: dt.datetime) -> str:
    """Stop a scheduled action before anything is claimed: it waits for a person, the reason kept."""
    rec.status = Recommendation.Status.PENDING
    rec.scheduled_for = None
    rec.closed_reason = reason[:300]
    rec.entered_inbox_at = rec.entered_inbox_at or now  # it comes to await the rep now
    rec.updated_at = now
    rec.save(update_fields=["status", "scheduled_for", "closed_reason", "entered_inbox_at", "updated_at"])
    audit_record(action="recommendation.execution_stopped", reference=_reference(rec), data={"reason": reason})
    return reason


def _handle_existing(rec: Recommendation, execution: Execution) -> str:
    """A second attempt for a key already claimed (inside the claim transaction, rec locked)."""
    if execution.status == Execution.Status.SUCCEEDED:
        if rec.status != Recommendation.Status.EXECUTED:
            rec.status = Recommendation.Status.EXECUTED
            rec.scheduled_for = None
            rec.save(update_fields=["status", "scheduled_for"])
        return "already executed"
    if execution.status == Execution.Status.FAILED:
        return "already failed"
    if clock.now() - execution.claimed_at < stale_claim_after():
        return "being executed by another worker"
    reason = (
        "Interrupted while sending: it may or may not have gone out, so it is not resent automatically. "
        f"Check the mail log for Message-ID {execution.message_id} before sending by hand."
    )
    _fail(rec, execution, reason)
    return "interrupted claim marked failed"


def _fail(rec: Recommendation, execution: Execution, reason: str) -> None:
    now = clock.now()
    execution.status = Execution.Status.FAILED
    execution.finished_at = now
    execution.result = {**execution.result, "error": reason}
    execution.save(update_fields=["status", "finished_at", "result"])
    rec.status = Recommendation.Status.FAILED
    rec.closed_reason = reason[:300]
    rec.updated_at = now
    rec.save(update_fields=["status", "closed_reason", "updated_at"])
    audit_record(
        action="recommendation.execution_failed",
        reference=_reference(rec),
        data={"idempotency_key": execution.idempotency_key, "reason": reason},
    )
    logger.warning("execution failed", extra={"recommendation_id": rec.pk, "reason": reason})


def _send(message: EmailMessage) -> None:
    """Open the connection first: a failure there provably sent nothing (released for a retry)."""
    connection = get_connection()
    try:
        connection.open()
    except _CONNECT_ERRORS as exc:
        raise NothingSent(str(exc)) from exc
    try:
        message.connection = connection
        message.send(fail_silently=False)
    finally:
        connection.close()


def execute_recommendation(*, recommendation_id: int, autonomous: bool, user_id: int | None = None) -> Execution | None:
    """Perform the recommendation's action once; return the execution, or None when there was nothing
    to do (already done, not due, stopped by the kill switch/pause, or gone). ``autonomous`` and
    ``user_id`` are the caller's view; the stored reviews decide (an approving review = a person's)."""
    execution, why_not = _claim(recommendation_id, autonomous=autonomous, user_id=user_id)
    if execution is None:
        logger.info("nothing to execute", extra={"recommendation_id": recommendation_id, "why": why_not})
        return None
    rec = execution.recommendation
    message, refusal, details = _build_message(rec, execution.message_id, autonomous=execution.autonomous)
    if message is None:
        with transaction.atomic():
            _fail(rec, execution, refusal)
        return execution
    try:
        _send(message)
    except NothingSent:
        with transaction.atomic():  # nothing left the building: release the key for the retry
            execution.delete()
        raise
    except Exception as exc:
        with transaction.atomic():
            _fail(rec, execution, f"The mail server refused or dropped the message: {exc}"[:300])
        return execution
    _finish(rec, execution, message, details)
    return execution


def _finish(rec: Recommendation, execution: Execution, message: EmailMessage, details: dict) -> None:
    now = clock.now()
    with transaction.atomic():
        execution.status = Execution.Status.SUCCEEDED
        execution.finished_at = now
        execution.result = {**details, "subject": message.subject}
        execution.save(update_fields=["status", "finished_at", "result"])
        Recommendation.objects.filter(pk=rec.pk).update(
            status=Recommendation.Status.EXECUTED, scheduled_for=None, closed_reason="", updated_at=now
        )
        if details.get("kind") == "email":
            record_signal(
                source=internal_source(),
                kind="email_sent",
                external_id=execution.message_id,
                message_id=execution.message_id,
                occurred_at=now,
                account=rec.account,
                contact=rec.contact,
                properties={
                    "subject": message.subject,
                    "recommendation_id": rec.pk,
                    "autonomous": execution.autonomous,
                    "action_type": rec.action_type,
                },
            )
        audit_record(
            action="recommendation.executed",
            actor=execution.performed_by,
            reference=_reference(rec),
            data={
                "idempotency_key": execution.idempotency_key,
                "message_id": execution.message_id,
                "autonomous": execution.autonomous,
                "kind": details.get("kind"),
            },
        )


def execute_due_actions(*, now: dt.datetime | None = None, limit: int = DUE_BATCH) -> int:
    """Execute scheduled recommendations whose time has come; return how many were attempted.

    Rows are picked with ``select_for_update(skip_locked=True)`` so concurrent sweeps share the work;
    each is then executed through the one executor (which re-locks and re-checks it). Also finishes
    off stale claims (interrupted sends) so they do not stay "scheduled" forever."""
    now = now or clock.now()
    with transaction.atomic():
        due = list(
            Recommendation.objects.select_for_update(skip_locked=True)
            .filter(status=Recommendation.Status.SCHEDULED, scheduled_for__lte=now)
            .order_by("scheduled_for", "pk")  # ties (one morning's approvals) in one order, every time
            .values_list("pk", flat=True)[:limit]
        )
    attempted = 0
    for pk in due:
        try:
            execute_recommendation(recommendation_id=pk, autonomous=True)
        except NothingSent:
            logger.warning("mail server unreachable; the next sweep retries", extra={"recommendation_id": pk})
            break
        attempted += 1
    return attempted
