"""Writes of the analysis engine: analysing one account, and the sweep of accounts whose time has come.

``analyze_account`` locks the account's picture row, rebuilds the picture from the stored signals,
runs the playbooks, lets the composer create/update/withdraw recommendations, updates edge-triggered
goals and marks the signals it covered as analysed (closing the outbox) — all in one transaction, so
running it twice for the same state changes nothing and two workers on one account serialise. What
follows after the commit is queued here too: the LLM rewrite of new wording (trust decides once it is
done) and the immediate notice of an urgent recommendation."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q

from accounts.models import Account, AccountPicture, Goal
from audit.services import audit_record
from recommendations import jobs, queries
from recommendations.learning import contacts as learnt_contacts
from recommendations.learning import store as learnt
from recommendations.models import Recommendation
from recommendations.picture import build_facts, features_of, next_check_of, playbook_settings
from recommendations.playbooks import Playbook, all_playbooks
from recommendations.playbooks.base import Finding, PictureFacts
from recommendations.services import caps, drafts
from recommendations.services.compose import ComposeResult, compose
from recommendations.services.review import route_recommendation
from salesai import clock

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 200
UNANALYSED_LIMIT = 5000  # a larger backlog is marked over several analyses (each re-queued by the outbox)
SWEEP_TIME_BUDGET_SECONDS = 50.0
#: How long a recommendation waits for its LLM rewrite before trust decides on the template draft.
POLISH_GRACE = dt.timedelta(minutes=5)


def queued_key(account_id: int) -> str:
    """The cache key claiming "an analysis of this account is queued" (bursts of signals coalesce)."""
    return f"analyze:queued:{account_id}"


@dataclass
class AnalysisResult:
    account_id: int
    analysed: bool
    skipped_reason: str = ""
    version: int = 0
    findings: list[Finding] = field(default_factory=list)
    composed: ComposeResult | None = None
    next_check_at: dt.datetime | None = None


def active_playbooks(configs: dict[str, dict]) -> dict[str, tuple[Playbook, dict]]:
    result = {}
    for playbook in all_playbooks():
        conf = configs.get(playbook.code, {})
        if conf.get("enabled", True):
            result[playbook.code] = (playbook, playbook.params(conf.get("params")))
    return result


def evaluate_playbooks(
    facts: PictureFacts, now: dt.datetime, playbooks: dict[str, tuple[Playbook, dict]]
) -> list[Finding]:
    findings = []
    for playbook, params in playbooks.values():
        try:
            finding = playbook.evaluate(facts, now, params)
        except Exception:
            # one broken rule (e.g. a bad admin parameter) must not stop the others
            logger.exception("playbook_failed", extra={"playbook": playbook.code, "account_id": facts.account_id})
            continue
        if finding is not None:
            findings.append(finding)
    return findings


def _update_goals(facts: PictureFacts, now: dt.datetime) -> None:
    """Edge-trigger the goals: record a crossing once, re-arm when the metric falls back."""
    for goal in facts.goals:
        holds = goal.holds_for(facts.metrics.get(goal.metric))
        if holds and not goal.is_met:
            Goal.objects.filter(pk=goal.id).update(is_met=True, last_crossed_at=now, crossings=goal.crossings + 1)
        elif not holds and goal.is_met:
            Goal.objects.filter(pk=goal.id).update(is_met=False)


def _lock_picture(account_id: int, *, skip_locked: bool = False) -> queries.LockedPicture | None:
    """The account's picture under a row lock, created first when the account has none; None when the
    account is gone, or (``skip_locked``) another worker is analysing it right now."""
    skip = skip_locked and connection.features.has_select_for_update_skip_locked
    locked = queries.lock_picture(account_id=account_id, skip_locked=skip)
    if locked is not None:
        return locked
    if skip and AccountPicture.objects.filter(account_id=account_id).exists():
        return None  # another worker holds it: it is being analysed right now
    if not Account.objects.filter(pk=account_id).exists():
        return None
    AccountPicture.objects.get_or_create(account_id=account_id)
    return queries.lock_picture(account_id=account_id)


def _relax_commit_durability() -> None:
    """PostgreSQL: this transaction's commit need not wait for its WAL flush.

    An analysis only derives from stored signals, and it marks them analysed in the same transaction:
    should the server crash in the fraction of a second before the flush, the analysis and its marks
    vanish together, the signals count as un-analysed again, and the outbox re-queues them. Signals
    themselves (and reviews, executions) keep the fully durable commit."""
    queries.relax_commit_durability()


def _queue_follow_ups(composed: ComposeResult) -> None:
    """After commit: the LLM rewrite of each new wording (its task lets trust decide on it), and the
    owner's immediate notice of each new urgent recommendation."""
    if drafts.llm_enabled():
        for rec in composed.to_polish:
            jobs.enqueue_on_commit(jobs.POLISH_DRAFT, rec.pk, rec.version)
    for rec in composed.urgent:
        # Proactive: the rep hears of a demo request or a hot reply without opening the inbox.
        jobs.enqueue_on_commit(jobs.NOTIFY_URGENT, rec.pk)


def analyze_account(*, account_id: int, force: bool = False, due_by: dt.datetime | None = None) -> AnalysisResult:
    """Analyse one account now (``clock.now()``), under a row lock on its picture.

    Without ``force`` (the per-signal path) the analysis is skipped when every signal of the account
    is already analysed: a burst of signals announced one by one coalesces into the analyses that
    actually find something new. The sweep passes ``force=True`` (time itself changed) and ``due_by``:
    then a picture another worker is analysing right now, or one no longer due, is skipped."""
    now = clock.now()
    with transaction.atomic():
        _relax_commit_durability()
        picture = _lock_picture(account_id, skip_locked=due_by is not None)
        if picture is None:
            return AnalysisResult(account_id=account_id, analysed=False, skipped_reason="gone or busy")
        if due_by is not None and (picture.next_check_at is None or picture.next_check_at > due_by):
            return AnalysisResult(account_id=account_id, analysed=False, skipped_reason="not due")
        # read before the facts are: exactly these are marked analysed afterwards, so one committed
        # meanwhile (even with a lower id) keeps its own analysis
        unanalysed = queries.unanalysed_signal_ids(account_id=account_id, limit=UNANALYSED_LIMIT)
        if not force and picture.analyzed_at is not None and not unanalysed:
            return AnalysisResult(account_id=account_id, analysed=False, skipped_reason="up to date")
        account = picture.account
        configs = playbook_settings()
        playbooks = active_playbooks(configs)
        facts = build_facts(account=account, now=now, configs=configs)
        findings = evaluate_playbooks(facts, now, playbooks)
        findings = learnt_contacts.rechoose(params=learnt.current().contact, facts=facts, findings=findings,
                                            owner=account.owner_id, playbooks=playbooks, now=now)  # fmt: skip
        composed = compose(account=account, facts=facts, findings=findings, playbooks=playbooks, now=now)
        caps.enforce(account_id=account_id, now=now)  # the rep's own e-mails may have filled a cap meanwhile
        _queue_follow_ups(composed)
        _update_goals(facts, now)
        state = queries.PictureState(
            features={
                **features_of(facts, now),
                "findings": [f.as_dict() for f in findings],
                "max_signal_id": facts.max_signal_id,
            },
            engagement_score=facts.engagement_score,
            intent_score=facts.intent_score,
            risk_score=facts.risk_score,
            version=picture.version + 1,
            analyzed_at=now,
            next_check_at=next_check_of(facts, now, list(playbooks.values())),
        )
        queries.save_picture(account_id=account_id, state=state)
        queries.mark_signals_analysed(signal_ids=unanalysed, at=now)
    logger.info(
        "account_analysed",
        extra={
            "account_id": account_id,
            "version": state.version,
            "findings": [f.code for f in findings],
            "recs_created": len(composed.created),
            "recs_updated": len(composed.updated),
            "recs_withdrawn": len(composed.withdrawn),
        },
    )
    return AnalysisResult(
        account_id=account_id,
        analysed=True,
        version=state.version,
        findings=findings,
        composed=composed,
        next_check_at=state.next_check_at,
    )


@dataclass
class SweepResult:
    analysed: int = 0
    expired: int = 0
    woken: int = 0
    routed: int = 0
    released: int = 0
    batches: int = 0
    seconds: float = 0.0


def expire_and_wake(*, now: dt.datetime) -> tuple[int, int]:
    """Expire open recommendations past ``expires_at``; wake snoozed ones whose time has come."""
    expired = woken = 0
    with transaction.atomic():
        due = list(
            Recommendation.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
            .filter(
                status__in=[Recommendation.Status.PENDING, Recommendation.Status.SNOOZED, Recommendation.Status.HELD],
                expires_at__lte=now,
            )
            .order_by("expires_at", "pk")[:1000]
        )
        for rec in due:
            rec.status = Recommendation.Status.EXPIRED
            rec.closed_reason = f"Expired on {rec.expires_at:%d %b %Y %H:%M} without a decision."
            rec.updated_at = now
            rec.save(update_fields=["status", "closed_reason", "updated_at"])
            audit_record(action="recommendation.expired", reference=f"recommendation:{rec.pk}", data={})
            expired += 1
        snoozed = list(
            Recommendation.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
            .filter(status=Recommendation.Status.SNOOZED, snoozed_until__lte=now)
            .order_by("snoozed_until", "pk")[:1000]
        )
        for rec in snoozed:
            held = caps.outreach_hold(recommendation=rec, now=now)
            if held is not None:  # woken into a full cap: held until it allows, not offered now
                caps.hold_recommendation(recommendation=rec, hold=held, now=now)
                continue
            rec.status = Recommendation.Status.PENDING
            rec.updated_at = now
            rec.save(update_fields=["status", "updated_at"])
            audit_record(
                action="recommendation.woken",
                reference=f"recommendation:{rec.pk}",
                data={"snoozed_until": rec.snoozed_until.isoformat()},
            )
            woken += 1
    return expired, woken


def route_unpolished(*, now: dt.datetime) -> int:
    """Let trust decide on the template draft of recommendations whose LLM rewrite never came (the
    task was lost, or the endpoint is down): they must not wait for a person's eyes forever for want
    of a decision. A rewrite arriving later still sends them back to review (``drafts``)."""
    routed = 0
    waiting = list(
        Recommendation.objects.filter(
            status=Recommendation.Status.PENDING, awaiting_polish=True, updated_at__lte=now - POLISH_GRACE
        ).values_list("pk", flat=True)[:1000]
    )
    for pk in waiting:
        with transaction.atomic():
            rec = (
                Recommendation.objects.select_for_update(
                    skip_locked=connection.features.has_select_for_update_skip_locked
                )
                .filter(pk=pk, awaiting_polish=True)
                .first()
            )
            if rec is not None:
                route_recommendation(recommendation=rec)
                routed += 1
    return routed


def sweep_due_accounts(
    *, batch_size: int = SWEEP_BATCH_SIZE, time_budget: float | None = SWEEP_TIME_BUDGET_SECONDS
) -> SweepResult:
    """Analyse every account whose ``next_check_at`` has passed (as of ``clock.now()``).

    Selects through ``picture_next_check_idx`` in bounded batches; each picture is locked only while it
    is analysed (``SKIP LOCKED``: one being analysed elsewhere is left to that worker), so concurrent
    sweeps and per-signal analyses do not wait on a whole batch, and the cost grows with the due
    accounts, not with all accounts or all signals. Analysis moves each
    picture's ``next_check_at`` into the future, so the loop ends."""
    started = time.perf_counter()
    now = clock.now()
    result = SweepResult()
    result.expired, result.woken = expire_and_wake(now=now)
    result.routed = route_unpolished(now=now)
    result.released = caps.release_held(now=now, route=route_recommendation)
    after: tuple[dt.datetime, int] | None = None  # keyset: the last (next_check_at, account) taken
    while time_budget is None or time.perf_counter() - started < time_budget:
        # the index picks the due pictures; each is then locked only for its own analysis (skip if busy).
        # Keyset paging, not "exclude those seen": a busy or failing one is not taken twice, and the
        # query stays the same size however many accounts were due.
        due = AccountPicture.objects.filter(next_check_at__lte=now)
        if after is not None:
            due = due.filter(Q(next_check_at__gt=after[0]) | Q(next_check_at=after[0], account_id__gt=after[1]))
        batch = list(
            due.order_by("next_check_at", "account_id").values_list("account_id", "next_check_at")[:batch_size]
        )
        if not batch:
            break
        result.batches += 1
        after = (batch[-1][1], batch[-1][0])
        for account_id, _ in batch:
            try:
                if analyze_account(account_id=account_id, force=True, due_by=now).analysed:
                    result.analysed += 1
            except Exception:
                logger.exception("sweep_analysis_failed", extra={"account_id": account_id})
            if time_budget is not None and time.perf_counter() - started >= time_budget:
                break
    result.seconds = time.perf_counter() - started
    return result
