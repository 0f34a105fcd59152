"""The composer: turns an account's findings into at most one open recommendation per action type.

New findings update the open recommendation (evidence added, reasoning rewritten, priority
recomputed, version + 1) instead of duplicating it; an open recommendation whose conditions no longer
hold is withdrawn with the reason recorded; a finding whose dedupe key was already decided (executed,
rejected, expired, withdrawn) is not proposed again.

A ``scheduled`` recommendation (approved by a person, or by autonomy and inside its undo window) is
never changed: what was approved is what is sent (DESIGN.md §7). A newer finding for it waits: once
it is executed, the next analysis proposes the finding as a new recommendation unless its dedupe key
is the one just executed (then it was answered). Withdrawing a scheduled one whose conditions no longer
hold is still allowed: it stops a send, it never changes one. Runs inside the analysis transaction, under the
row lock on the account's picture, so concurrent analyses of one account cannot race here (and the
partial unique constraint ``one_open_recommendation_per_account_action`` backs it up)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef

from accounts.models import Account
from audit.services import audit_record
from recommendations import queries
from recommendations.learning import judge as learning
from recommendations.learning import store as learnt
from recommendations.learning.timing import retime
from recommendations.models import Evidence, Recommendation
from recommendations.playbooks import Playbook, history_noun, playbook_for_action, story_order
from recommendations.playbooks.base import EvidenceItem, Finding, PictureFacts, fmt_date, fmt_money
from recommendations.services import drafts, notifications
from recommendations.services.review import route_recommendation
from signals.models import Signal

logger = logging.getLogger(__name__)

MIN_HISTORY = 10  # executed recommendations of a playbook needed before its rationale quotes our own record
REPLY_WITHIN_DAYS = 5


@dataclass
class ComposeResult:
    created: list[Recommendation] = field(default_factory=list)
    updated: list[Recommendation] = field(default_factory=list)
    unchanged: list[Recommendation] = field(default_factory=list)
    withdrawn: list[Recommendation] = field(default_factory=list)
    # for the caller to queue after commit: new wording for the LLM to rewrite (then trust decides),
    # and new recommendations urgent enough to tell their owner at once
    to_polish: list[Recommendation] = field(default_factory=list)
    urgent: list[Recommendation] = field(default_factory=list)


def _sentence_join(clauses: list[str]) -> str:
    clauses = [c.strip().rstrip(".") for c in clauses if c and c.strip()]
    if not clauses:
        return ""
    if len(clauses) == 1:
        text = clauses[0]
    else:
        text = ", ".join(clauses[:-1]) + ", and " + clauses[-1]
    return text[0].upper() + text[1:] + "."


def _cited_reply(facts: PictureFacts, playbooks: set[str], now: dt.datetime):
    """The last human reply of the past 30 days, when the story tells it (no reply playbook does)."""
    humans = [r for r in facts.human_replies() if r.occurred_at > now - dt.timedelta(days=30)]
    if not humans or "reply_waiting" in playbooks or "check_in" in playbooks:
        return None
    return humans[-1]


def context_clauses(facts: PictureFacts, findings: list[Finding], now: dt.datetime) -> list[tuple[int, str]]:
    """Facts of the picture that complete the story when no finding already tells them (with their place)."""
    playbooks = {f.playbook for f in findings}
    clauses = []
    if "pricing_interest" not in playbooks:
        recent = [v for v in facts.pricing_visits if v.occurred_at > now - dt.timedelta(days=7)]
        if len(recent) >= 2:
            clauses.append(
                (
                    story_order("pricing_interest"),
                    f"{facts.account_name} viewed your pricing page {len(recent)} times in the last 7 days",
                )
            )
    last = _cited_reply(facts, playbooks, now)
    if last is not None:
        mood = "neutral"
        if last.sentiment is not None:
            mood = "positive" if last.sentiment >= 0.3 else ("negative" if last.sentiment <= -0.3 else "neutral")
        if last.intent in ("interested",):
            mood = "positive"
        clauses.append(
            (
                story_order("reply_waiting"),
                f"{facts.contact_name(last.contact_id)}'s reply on {fmt_date(last.occurred_at)} was {mood}",
            )
        )
    contract = facts.active_contract()
    if contract and "renewal" not in playbooks:
        days = (contract.renewal_date - now.date()).days
        if 0 <= days <= 180:
            clauses.append(
                (
                    story_order("renewal"),
                    f"their {fmt_money(contract.value)} contract renews in {days} days ({fmt_date(contract.renewal_date)})",
                )
            )
    return clauses


def cited_evidence(facts: PictureFacts, findings: list[Finding], now: dt.datetime) -> tuple[EvidenceItem, ...]:
    """The facts ``context_clauses`` cite that no finding lists as evidence: the last human reply (the
    story says "Dana's reply on 17 Nov was positive", so the evidence list must show that reply)."""
    last = _cited_reply(facts, {f.playbook for f in findings}, now)
    if last is None:
        return ()
    return (
        EvidenceItem(
            statement=f"{facts.contact_name(last.contact_id)} replied on {fmt_date(last.occurred_at)}",
            kind=last.kind,
            occurred_at=last.occurred_at,
            signal_id=last.id,
        ),
    )


def story(lead: Finding, findings: list[Finding], facts: PictureFacts, now: dt.datetime) -> str:
    """One story per account: the lead finding first, then the others, then the picture's context."""
    rest = [(story_order(f.playbook), f.summary) for f in findings if f is not lead]
    rest += context_clauses(facts, findings, now)
    rest.sort(key=lambda pair: pair[0])
    return _sentence_join([lead.summary, *[text for _, text in rest]][:5])


def priority_of(finding: Finding, facts: PictureFacts, judged: learning.Judgement | None = None) -> int:
    """0–100 from urgency (half), value at stake (three tenths, log-scaled to $500k) and intent; once a
    model is learnt for the playbook, :func:`recommendations.learning.judge.learned_priority` (the
    calibrated confidence and the account's fit take a share)."""
    if judged is not None and judged.learned:
        return learning.learned_priority(urgency=finding.urgency, stakes=finding.stakes, intent=facts.intent_score,
                                         confidence=judged.confidence, fit=judged.fit)  # fmt: skip
    value = min(1.0, math.log10(1 + float(finding.stakes or 0)) / math.log10(1 + 500_000))
    score = 100 * (0.5 * finding.urgency + 0.3 * value + 0.2 * facts.intent_score)
    return max(0, min(100, round(score)))


def rationale_for(finding: Finding, now: dt.datetime, cache: dict) -> str:
    """Why it should work: this installation's record when there is enough of it, else the playbook's reason."""
    if finding.playbook not in cache:
        since, until = now - dt.timedelta(days=365), now - dt.timedelta(days=REPLY_WITHIN_DAYS)
        # plain SQL for the count made on every new recommendation; the reply check (a queryset with a
        # correlated subquery, same conditions) only once there is enough history for it to matter
        total = queries.executed_count(playbook=finding.playbook, since=since, until=until)
        got = 0
        if total >= MIN_HISTORY:
            replied = Signal.objects.filter(
                account_id=OuterRef("account_id"),
                kind=Signal.Kind.EMAIL_REPLY,
                is_auto_reply=False,
                occurred_at__gt=OuterRef("updated_at"),
                occurred_at__lte=ExpressionWrapper(
                    OuterRef("updated_at") + dt.timedelta(days=REPLY_WITHIN_DAYS), output_field=DateTimeField()
                ),
            )
            got = Recommendation.objects.filter(
                Exists(replied),
                playbook=finding.playbook,
                status=Recommendation.Status.EXECUTED,
                updated_at__gte=since,
                updated_at__lte=until,
            ).count()
        cache[finding.playbook] = (total, got)
    total, got = cache[finding.playbook]
    if total >= MIN_HISTORY:
        noun = history_noun(finding.playbook)
        return (
            f"{got} of {total} {noun} sent from salesai in the last year got a reply within "
            f"{REPLY_WITHIN_DAYS} days ({got / total:.0%})."
        )
    return finding.stated_reason


def _fingerprint(finding: Finding, title: str, reasoning: str) -> str:
    payload = json.dumps(
        [finding.dedupe_key, finding.contact_id, [e.ref for e in finding.evidence], title, reasoning], default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _evidence_rows(recommendation: Recommendation, items: tuple[EvidenceItem, ...], seen: set[str]) -> list[Evidence]:
    rows = []
    for item in items:
        if item.ref in seen:
            continue
        seen.add(item.ref)
        rows.append(
            Evidence(
                recommendation=recommendation,
                signal_id=item.signal_id,
                fact_type=item.fact_type,
                fact_id=item.fact_id,
                kind=item.kind,
                statement=item.statement[:500],
                occurred_at=item.occurred_at,
                weight=item.weight,
            )
        )
    return rows


def _evidence_ref(row: dict) -> str:
    return f"signal:{row['signal_id']}" if row["signal_id"] else f"{row['fact_type']}:{row['fact_id']}"


def compose(
    *,
    account: Account,
    facts: PictureFacts,
    findings: list[Finding],
    playbooks: dict[str, tuple[Playbook, dict]],
    now: dt.datetime,
) -> ComposeResult:
    """Create, update or withdraw the account's open recommendations to match ``findings``. What is to
    be queued after commit (rewrites, urgent notices) is in the result's ``to_polish`` and ``urgent``."""
    result = ComposeResult()
    lead_by_action: dict[str, Finding] = {}
    for f in sorted(findings, key=lambda f: -f.urgency):
        lead_by_action.setdefault(f.action_type, f)
    # Locked so a review or the executor changing one of them meanwhile is seen, not overwritten.
    open_recs = {r.action_type: r for r in queries.open_recommendations_for_update(account_id=account.pk)}
    for action_type, lead in list(lead_by_action.items()):
        # Never create a recommendation born expired (its moment passed before we looked, e.g. old
        # history imported at once): lead with a finding still current, or propose nothing. An open one
        # keeps its lead, so the sweep expires it with its reason.
        if action_type not in open_recs and lead.expires_at <= now:
            current = [f for f in findings if f.action_type == action_type and f.expires_at > now]
            if current:
                lead_by_action[action_type] = max(current, key=lambda f: f.urgency)
            else:
                del lead_by_action[action_type]
    decided_keys = facts.decided_keys
    seen_refs: dict[int, set[str]] | None = None

    def evidence_seen() -> dict[int, set[str]]:
        nonlocal seen_refs
        if seen_refs is None:
            seen_refs = {}
            for row in Evidence.objects.filter(recommendation__in=list(open_recs.values())).values(
                "recommendation_id", "signal_id", "fact_type", "fact_id"
            ):
                seen_refs.setdefault(row["recommendation_id"], set()).add(_evidence_ref(row))
        return seen_refs

    history: dict = {}
    all_findings = list(findings)
    cited = cited_evidence(facts, all_findings, now)  # what the story cites beyond the findings' own evidence
    models = learnt.current()

    for action_type, finding in lead_by_action.items():
        rec = open_recs.get(action_type)
        if rec is None and finding.dedupe_key in decided_keys:
            continue
        if rec is not None and rec.status == Recommendation.Status.SCHEDULED:
            result.unchanged.append(rec)  # approved (by a person or autonomy): frozen until it runs or is cancelled
            continue
        reasoning = story(finding, all_findings, facts, now)
        fingerprint = _fingerprint(finding, finding.title, reasoning)
        if rec is not None and rec.fingerprint == fingerprint:
            result.unchanged.append(rec)
            continue
        contact = facts.contact(finding.contact_id)
        draft = drafts.render_draft(finding=finding, facts=facts, account=account, contact=contact)
        judged = learning.judge(finding=finding, facts=facts, account=account, models=models)
        fields = {
            "contact_id": finding.contact_id,
            "playbook": finding.playbook,
            "title": finding.title[:300],
            "priority": priority_of(finding, facts, judged),
            "confidence": round(max(0.0, min(1.0, judged.confidence)), 3),
            "confidence_note": judged.note[:300],
            "reasoning": reasoning,
            "rationale": judged.rationale or rationale_for(finding, now, history),
            "why_now": finding.why_now,
            "counterfactual": finding.counterfactual,
            "stakes": Decimal(finding.stakes or 0).quantize(Decimal("0.01")),
            "dedupe_key": finding.dedupe_key[:200],
            "findings": [
                {**finding.as_dict(), "fingerprint": fingerprint, "features": judged.features},
                *[f.as_dict() for f in all_findings if f is not finding],
            ],
            "expires_at": finding.expires_at,
            "updated_at": now,
        }
        polish = drafts.llm_enabled()  # the LLM rewrites first, then trust decides (in the polish task)
        if rec is None:
            rec = Recommendation.objects.create(
                account=account,
                action_type=action_type,
                status=Recommendation.Status.PENDING,
                draft_subject=draft.subject[:300],
                draft_body=draft.body,
                awaiting_polish=polish,
                created_at=now,
                **fields,
            )
            Evidence.objects.bulk_create(_evidence_rows(rec, (*finding.evidence, *cited), set()))
            audit_record(
                action="recommendation.created",
                reference=f"recommendation:{rec.pk}",
                data={"account_id": account.pk, "action_type": action_type, "dedupe_key": rec.dedupe_key},
            )
            if polish:
                result.to_polish.append(rec)
            else:
                route_recommendation(
                    recommendation=rec, new=True, c_level=bool(contact and contact.seniority == "c_level")
                )
                retime(recommendation=rec, params=models.timing, segment=account.segment, now=now)
            if notifications.is_urgent(rec):
                result.urgent.append(rec)
            result.created.append(rec)
            continue
        material = (
            rec.dedupe_key != fields["dedupe_key"]
            or rec.contact_id != fields["contact_id"]
            or bool(_evidence_rows(rec, finding.evidence, set(evidence_seen().get(rec.pk, set()))))
        )
        for name, value in fields.items():
            setattr(rec, name, value)
        if material:
            rec.draft_subject, rec.draft_body = draft.subject[:300], draft.body
            if polish and rec.status == Recommendation.Status.PENDING:
                rec.awaiting_polish = True
        rec.version += 1
        rec.save(
            update_fields=[
                *(name.removesuffix("_id") for name in fields),
                "draft_subject",
                "draft_body",
                "version",
                "awaiting_polish",
            ]
        )
        Evidence.objects.bulk_create(
            _evidence_rows(rec, (*finding.evidence, *cited), evidence_seen().setdefault(rec.pk, set()))
        )
        audit_record(
            action="recommendation.updated",
            reference=f"recommendation:{rec.pk}",
            data={"version": rec.version, "material": material, "dedupe_key": rec.dedupe_key},
        )
        if rec.awaiting_polish:
            result.to_polish.append(rec)  # this version's rewrite routes it (the older version's task stands down)
        elif material and rec.status == Recommendation.Status.PENDING:
            route_recommendation(recommendation=rec)
        result.updated.append(rec)

    for action_type, rec in open_recs.items():
        if action_type in lead_by_action:
            continue
        playbook, params = playbooks.get(rec.playbook) or (playbook_for_action(action_type), {})
        if playbook is None or rec.playbook not in playbooks:
            reason = "Its playbook is turned off."
        elif playbook.explain_drop:
            reason = playbook.explain_drop(facts, now, params)
        else:
            reason = "Its conditions no longer hold."
        withdraw_recommendation(recommendation=rec, reason=f"{reason} (checked {now:%d %b %Y %H:%M})", now=now)
        result.withdrawn.append(rec)
    return result


def withdraw_recommendation(*, recommendation: Recommendation, reason: str, now: dt.datetime) -> Recommendation:
    """Close an open recommendation whose conditions no longer hold, keeping the reason."""
    with transaction.atomic():
        recommendation.status = Recommendation.Status.WITHDRAWN
        recommendation.closed_reason = reason[:300]
        recommendation.updated_at = now
        recommendation.save(update_fields=["status", "closed_reason", "updated_at"])
        audit_record(
            action="recommendation.withdrawn",
            reference=f"recommendation:{recommendation.pk}",
            data={"reason": reason, "action_type": recommendation.action_type},
        )
    return recommendation
