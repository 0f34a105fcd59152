"""Writes of the trust model: policies (audited), decisions with their reasons, outcomes and demotion.

``trust`` knows nothing about what it is asked about: a *domain* is a plain string (an action type) and
a *reference* an opaque string such as ``recommendation:42``. It answers "may I act alone in domain D at
stakes S?" (:func:`decide`), "may this scheduled action still run?" (:func:`autonomy_allowed`), and is
told "in domain D, this happened" (:func:`record_outcome`).

Demotion and its end: a severe failure of an autonomous action (unsubscribe, complaint, bounce, wrong
person) demotes the domain at once; in a domain set to autonomous, ``demote_after_consecutive_failures``
failures in a row demote it too. A demoted domain goes back to review + shadow mode. The demotion
clears by itself when the record qualifies again (minimum reviews and the bound ≥ the requirement) AND
at least ``max(5, ceil(min_reviews / 2))`` reviews were made after the demotion — fresh human labels,
so a domain cannot slide back into autonomy on old evidence alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from audit.services import audit_record
from salesai import clock
from salesai.roles import manager_addresses
from trust import queries, selectors
from trust.models import Outcome, TrustDecision, TrustPolicy, TrustSwitch

logger = logging.getLogger(__name__)

#: Defaults per domain, on top of the model's field defaults; every other domain gets the model's.
#: Escalations and contact changes touch people inside the company or the relationship itself: a
#: person decides by default. Renewals carry a whole contract: a lower cap.
DOMAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "churn_escalation": {"mode": TrustPolicy.Mode.REVIEW},
    "change_contact": {"mode": TrustPolicy.Mode.REVIEW},
    "renewal_outreach": {"stakes_cap": Decimal("10000"), "required_reliability": 0.92},
    "expansion": {"stakes_cap": Decimal("15000")},
    "reply": {"required_reliability": 0.92, "review_c_level_contacts": True},
    "speed_to_lead": {"undo_window_minutes": 5},
}

#: Fields a manager may change through :func:`update_policy` (the admin's form).
POLICY_FIELDS = (
    "mode",
    "required_reliability",
    "confidence_level",
    "min_reviews",
    "minor_edit_max_ratio",
    "stakes_cap",
    "review_strategic_accounts",
    "review_c_level_contacts",
    "undo_window_minutes",
    "daily_cap",
    "demote_after_consecutive_failures",
    "review_sample_rate",
    "half_life_days",
)

_SUCCESS = selectors.SUCCESS_KINDS
_SEVERE = selectors.SEVERE_KINDS


def money(amount: Decimal | float | int | None) -> str:
    """$48,000 — whole dollars, thousands separated."""
    return f"${Decimal(amount or 0):,.0f}"


#: Display names of the domains, registered by the app that defines them (trust knows no action
#: types: ``recommendations`` registers its playbooks' labels when it starts), so the trust page, its
#: sentences and the inbox use one name per action type.
_LABELS: dict[str, str] = {}


def register_domain_label(domain: str, label: str) -> None:
    _LABELS[domain] = label


def domain_label(domain: str) -> str:
    """The registered display name, lower-cased for a sentence ('escalate churn risk'); else the code
    in words (follow_up → 'follow up')."""
    label = _LABELS.get(domain)
    return label[:1].lower() + label[1:] if label else domain.replace("_", " ")


def domain_title(domain: str) -> str:
    """The display name as a heading ('Escalate churn risk')."""
    label = domain_label(domain)
    return label[:1].upper() + label[1:]


def policy_for(domain: str) -> TrustPolicy:
    """The domain's policy, created from :data:`DOMAIN_DEFAULTS` the first time it is asked about."""
    if not domain:
        raise ValueError("a trust domain is a non-empty string")
    policy = queries.policy_by_domain(domain)  # every trust decision starts here: plain SQL
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return TrustPolicy.objects.create(domain=domain, **DOMAIN_DEFAULTS.get(domain, {}))
    except IntegrityError:  # created concurrently
        return TrustPolicy.objects.get(domain=domain)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


@transaction.atomic
def update_policy(*, policy: TrustPolicy, user, changes: dict[str, Any]) -> TrustPolicy:
    """Change a policy and audit who changed what (old → new), in one transaction.

    ``changes`` maps field names to new values; unchanged values are ignored. Validates the model."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    creating = policy.pk is None
    locked = policy if creating else TrustPolicy.objects.select_for_update().get(pk=policy.pk)
    before = {} if creating else model_to_dict(locked, fields=POLICY_FIELDS)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["updated_by", "demoted_at", "demoted_reason"])
    diff = {
        name: {"old": _jsonable(before.get(name)), "new": _jsonable(getattr(locked, name))}
        for name in POLICY_FIELDS
        if before.get(name) != getattr(locked, name)
    }
    locked.updated_by = user if getattr(user, "pk", None) else None
    locked.save()
    if diff or creating:
        audit_record(
            action="trust.policy.created" if creating else "trust.policy.changed",
            actor=user,
            reference=f"trust_policy:{locked.domain}",
            data={"domain": locked.domain, "changes": diff},
        )
    if locked is not policy:
        policy.refresh_from_db()
    return locked


@transaction.atomic
def set_kill_switch(*, on: bool, user, reason: str = "") -> TrustSwitch:
    """Turn the global kill switch on or off (audited). While on, nothing runs on its own."""
    row = TrustSwitch.objects.select_for_update().filter(singleton=True).first() or TrustSwitch.objects.create()
    old = row.kill_switch
    row.kill_switch = on
    row.reason = reason
    row.updated_by = user if getattr(user, "pk", None) else None
    row.save()
    audit_record(
        action="trust.kill_switch.on" if on else "trust.kill_switch.off",
        actor=user,
        reference="trust_switch",
        data={"old": old, "new": on, "reason": reason},
    )
    return row


kill_switch_on = selectors.kill_switch_on  # the views and autonomy_allowed ask here


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str


def autonomy_allowed(
    domain: str, *, stakes: Decimal | None = None, strategic: bool = False, c_level: bool = False
) -> Permission:
    """Re-checked by the executor at execution time: may a scheduled autonomous action still run?

    The kill switch, a pause, a switch to review-only, a demotion, and policy rules tightened since
    the decision (a lower cap, "always review strategic accounts") all stop scheduled actions."""
    if kill_switch_on():
        return Permission(False, "The global kill switch is on: nothing runs on its own.")
    policy = policy_for(domain)
    if policy.mode == TrustPolicy.Mode.PAUSED:
        return Permission(False, f"Autonomy for {domain_label(domain)} is paused.")
    if policy.mode == TrustPolicy.Mode.REVIEW:
        return Permission(False, f"{domain_label(domain).capitalize()} is set to always review.")
    if policy.demoted_at:
        return Permission(False, f"{domain_label(domain).capitalize()} was demoted: {policy.demoted_reason}")
    if stakes is not None and policy.stakes_cap is not None and Decimal(stakes) > policy.stakes_cap:
        return Permission(False, f"{money(stakes)} at stake is now over the {money(policy.stakes_cap)} cap.")
    if strategic and policy.review_strategic_accounts:
        return Permission(False, "Strategic accounts now always get a person's eyes.")
    if c_level and policy.review_c_level_contacts:
        return Permission(False, "C-level contacts now always get a person's eyes.")
    return Permission(True, "")


@contextlib.contextmanager
def _daily_cap_lock(domain: str, *, needed: bool) -> Iterator[bool]:
    """On PostgreSQL, when an autonomous verdict is within reach under a daily cap: hold a
    transaction-scoped advisory lock per domain until the decision is committed, so two workers
    deciding at once cannot both take the day's last autonomous slot. Yields whether it is held."""
    if not needed or connection.vendor != "postgresql":
        yield False
        return
    key = int.from_bytes(
        hashlib.blake2b(f"trust-daily-cap:{domain}".encode(), digest_size=8).digest(), "big", signed=True
    )
    with transaction.atomic():
        queries.advisory_xact_lock(key)
        yield True


def review_sample_draw(domain: str, reference: str) -> float:
    """The draw in [0, 1) that decides whether an action is picked for the review sample.

    Keyed on the action, not on the moment: a hash of the domain and reference under ``SECRET_KEY``.
    Outsiders cannot predict it, an auditor can repeat it, an action decided again gets the same draw,
    and a replay of the same history samples the same actions. Without a reference there is nothing to
    key on, and the draw is plain random."""
    if not reference:
        return random.random()
    digest = hmac.new(settings.SECRET_KEY.encode(), f"review-sample\n{domain}\n{reference}".encode(), hashlib.sha256)
    return int.from_bytes(digest.digest()[:8], "big") / 2**64


def decide(
    *,
    domain: str,
    stakes: Decimal,
    strategic: bool = False,
    c_level: bool = False,
    reference: str = "",
    review_reasons: Sequence[str] = (),
    rng: random.Random | None = None,
) -> TrustDecision:
    """Decide whether the system may act alone, store the verdict with its numbers and sentences.

    AUTONOMOUS only if: the mode allows it, no kill switch, not demoted, the minimum reviews are met,
    the anytime-valid lower bound ≥ the required reliability, the stakes are under the cap, the
    strategic/C-level rules do not apply, the daily cap is not reached, and the action is not drawn
    for the review sample. ``would_be_autonomous`` records what the track record alone would allow
    (shadow mode), whatever the other rules say. ``review_reasons``: sentences of the caller's own rules
    that need a person whatever the record says (trust does not know what they are about, e.g. a
    recipient nobody vouched for); each is kept among the reasons."""
    now = clock.now()
    stakes = Decimal(stakes or 0)
    policy = policy_for(domain)
    record = selectors.track_record(policy, now=now)
    label = domain_label(domain)
    killed, today = selectors.kill_switch_and_autonomous_today(domain, now=now)

    blockers: list[str] = [*review_reasons]  # sentences, in the order a person reads them
    if killed:
        blockers.append("Needs review: the global kill switch is on, nothing is sent on its own")
    if policy.mode == TrustPolicy.Mode.PAUSED:
        blockers.append(f"Needs review: autonomy for {label} is paused")
    elif policy.mode == TrustPolicy.Mode.REVIEW:
        blockers.append(f"Needs review: {label} is set to always need a person")
    if policy.demoted_at:
        blockers.append(
            f"Needs review: {label} was demoted on {policy.demoted_at:%d %b %Y} ({policy.demoted_reason}); "
            f"{max(0, selectors.requalify_reviews(policy) - record.reviews_since_demotion)} more reviews and "
            "a re-met bound bring it back"
        )
    if policy.stakes_cap is not None and stakes > policy.stakes_cap:
        blockers.append(
            f"Needs review: {money(stakes)} at stake is over the {money(policy.stakes_cap)} cap for “{label}”, "
            "whatever the track record"
        )
    if strategic and policy.review_strategic_accounts:
        blockers.append("Needs review: strategic accounts always get a person's eyes")
    if c_level and policy.review_c_level_contacts:
        blockers.append("Needs review: C-level contacts always get a person's eyes")
    cap_reached = f"Needs review: the daily cap of {policy.daily_cap} autonomous {label} actions is reached"
    if policy.daily_cap is not None and today >= policy.daily_cap:
        blockers.append(cap_reached)

    rate = f"{record.successes} of {record.total}"
    bound_text = f"lower bound {record.lower_bound:.2f}"
    if record.reviews_needed:
        if record.reviews == 0 and record.total == 0:
            record_sentence = f"Needs review: no track record yet — {policy.min_reviews} reviews needed, 0 so far"
        else:
            record_sentence = (
                f"Needs review: not enough track record yet — {policy.min_reviews} reviews needed, "
                f"{record.reviews} so far"
            )
        blockers.append(record_sentence)
    elif not record.bound_met:
        blockers.append(
            f"Needs review: {label} succeeded {rate} times ({bound_text} < {record.required:.2f} required); "
            f"{record.progress_sentence().lower()}"
        )

    with _daily_cap_lock(domain, needed=not blockers and policy.daily_cap is not None) as locked:
        if locked:  # count again, now that no other decision of this domain can be between count and insert
            today = selectors.kill_switch_and_autonomous_today(domain, now=now)[1]
            if today >= policy.daily_cap:
                blockers.append(cap_reached)
        would_be_autonomous = record.qualifies
        sampled = False
        draw = rng.random() if rng is not None else review_sample_draw(domain, reference)
        if not blockers and draw < policy.review_sample_rate:
            sampled = True
            blockers.append(
                f"Needs review: picked at random for a check ({policy.review_sample_rate:.0%} of autonomous "
                f"{label} actions are reviewed to keep the record honest)"
            )

        if blockers:
            verdict = TrustDecision.Verdict.REVIEW
            reasons = blockers
            if would_be_autonomous and not sampled:
                reasons.append(
                    f"Shadow mode: the record alone would allow acting alone ({rate} succeeded, {bound_text} ≥ "
                    f"{record.required:.2f} required)"
                )
        else:
            verdict = TrustDecision.Verdict.AUTONOMOUS
            cap_text = (
                f"{money(stakes)} at stake is under the {money(policy.stakes_cap)} cap"
                if policy.stakes_cap is not None
                else f"{money(stakes)} at stake (no cap)"
            )
            reasons = [
                f"Auto-send: “{label}” succeeded {rate} times ({bound_text} ≥ {record.required:.2f} required) "
                f"and {cap_text}",
                f"Sent after a {policy.undo_window_minutes}-minute undo window; {today + 1} of "
                f"{policy.daily_cap} autonomous “{label}” actions today",
            ]

        numbers = {
            "successes": record.successes,
            "failures": record.failures,
            "reviews": record.reviews,
            "min_reviews": policy.min_reviews,
            "effective_successes": round(record.effective_successes, 3),
            "effective_failures": round(record.effective_failures, 3),
            "effective_n": round(record.effective_n, 3),
            "lower_bound": round(record.lower_bound, 4),
            "required": record.required,
            "confidence": record.confidence,
            "clean_approvals_needed": record.clean_needed,
            "stakes": str(stakes),
            "stakes_cap": None if policy.stakes_cap is None else str(policy.stakes_cap),
            "strategic": strategic,
            "c_level": c_level,
            "daily_count": today,
            "daily_cap": policy.daily_cap,
            "mode": policy.mode,
            "kill_switch": killed,
            "demoted": policy.demoted_at is not None,
            "undo_window_minutes": policy.undo_window_minutes,
            "half_life_days": policy.half_life_days,
        }
        decision = TrustDecision.objects.create(
            domain=domain,
            verdict=verdict,
            would_be_autonomous=would_be_autonomous,
            sampled_for_review=sampled,
            stakes=stakes,
            reasons=reasons,
            numbers=numbers,
            reference=reference[:100],
        )
        if abs((decision.created_at - now).total_seconds()) > 1:
            # the one clock is moved (sweep --as-of, the simulator): date the decision in its time, so the
            # daily cap and the manager page count it on the right day
            TrustDecision.objects.filter(pk=decision.pk).update(created_at=now)
            decision.created_at = now
        return decision


def review_outcome_kind(*, domain: str, decision: str, edit_ratio: float | None = None) -> str:
    """A review's label: approved unchanged, a minor or major edit (per the policy), or rejected."""
    if decision == "rejected":
        return Outcome.Kind.REJECTED
    if edit_ratio is None or edit_ratio <= 0:
        return Outcome.Kind.APPROVED
    policy = policy_for(domain)
    return Outcome.Kind.EDITED_MINOR if edit_ratio <= policy.minor_edit_max_ratio else Outcome.Kind.EDITED_MAJOR


@transaction.atomic
def record_outcome(
    *, domain: str, kind: str, reference: str, autonomous: bool, occurred_at: dt.datetime | None = None
) -> Outcome:
    """Add one labelled result to the domain's record (once per (domain, reference, kind)), then apply
    demotion at once, or clear a demotion the record has earned back. Audited."""
    if kind not in Outcome.Kind.values:
        raise ValueError(f"unknown outcome kind {kind!r}")
    occurred_at = occurred_at or clock.now()
    if reference:
        existing = Outcome.objects.filter(domain=domain, reference=reference, kind=kind).first()
        if existing is not None:
            return existing
    severe = kind in _SEVERE and autonomous
    try:
        with transaction.atomic():
            outcome = Outcome.objects.create(
                domain=domain,
                kind=kind,
                success=kind in _SUCCESS,
                severe=severe,
                autonomous=autonomous,
                reference=reference[:100],
                occurred_at=occurred_at,
            )
    except IntegrityError:
        return Outcome.objects.get(domain=domain, reference=reference, kind=kind)
    audit_record(
        action="trust.outcome.recorded",
        reference=reference,
        data={"domain": domain, "kind": kind, "success": outcome.success, "severe": severe, "autonomous": autonomous},
    )
    policy = TrustPolicy.objects.select_for_update().get(pk=policy_for(domain).pk)
    record = selectors.track_record(policy, now=max(clock.now(), occurred_at))
    label = domain_label(domain)
    if policy.demoted_at is None:
        reason = ""
        if severe:
            reason = f"{outcome.get_kind_display()} after an autonomous {label} action ({reference or 'no reference'})"
        elif (
            not outcome.success
            and policy.mode == TrustPolicy.Mode.AUTONOMOUS
            and record.consecutive_failures >= policy.demote_after_consecutive_failures
        ):
            reason = f"{record.consecutive_failures} failures in a row (the rule demotes after {policy.demote_after_consecutive_failures})"
        if reason:
            _demote(policy, reason=reason[:300], record=record)
    elif outcome.kind in selectors.REVIEW_KINDS and selectors.requalified(policy, record):
        _requalify(policy, record=record)
    return outcome


def _demote(policy: TrustPolicy, *, reason: str, record: selectors.TrackRecord) -> None:
    policy.demoted_at = clock.now()
    policy.demoted_reason = reason
    policy.save(update_fields=["demoted_at", "demoted_reason", "updated_at"])
    audit_record(
        action="trust.policy.demoted",
        reference=f"trust_policy:{policy.domain}",
        data={"domain": policy.domain, "reason": reason, "lower_bound": round(record.lower_bound, 4)},
    )
    logger.warning("trust domain demoted", extra={"domain": policy.domain, "reason": reason})
    transaction.on_commit(lambda: _tell_managers(policy.domain, reason), robust=True)


def _requalify(policy: TrustPolicy, *, record: selectors.TrackRecord) -> None:
    previous = policy.demoted_reason
    policy.demoted_at = None
    policy.demoted_reason = ""
    policy.save(update_fields=["demoted_at", "demoted_reason", "updated_at"])
    audit_record(
        action="trust.policy.requalified",
        reference=f"trust_policy:{policy.domain}",
        data={
            "domain": policy.domain,
            "previous_reason": previous,
            "lower_bound": round(record.lower_bound, 4),
            "reviews_since_demotion": record.reviews_since_demotion,
        },
    )


def _tell_managers(domain: str, reason: str) -> None:
    """E-mail the managers why a domain lost its autonomy (best effort: the page shows it anyway)."""
    recipients = manager_addresses()
    if not recipients:
        return
    try:
        send_mail(
            subject=f"salesai: {domain_label(domain)} is back to review",
            message=(
                f"salesai stopped acting alone on {domain_label(domain)}.\n\nWhy: {reason}\n\n"
                "Every new action in this domain now waits for a person. Autonomy returns on its own once "
                "enough fresh reviews lift the track record back over the requirement. Details: /trust/"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except Exception:  # the page and the admin show the reason; mail is a courtesy
        logger.exception("could not e-mail managers about a demotion", extra={"domain": domain})
