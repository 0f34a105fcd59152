"""Renewal approaching: a contract entering the 90/60/30-day windows; with low engagement it becomes a
churn-risk escalation."""

from __future__ import annotations

import datetime as dt

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    NOT_MET,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    earliest_after,
    fmt_date,
    fmt_day,
    fmt_money,
)

CODE = "renewal"
RENEWAL_OUTREACH = Action(
    code="renewal_outreach",
    label="Start the renewal conversation",
    template="recommendations/drafts/renewal_outreach.txt",
)
CHURN_ESCALATION = Action(
    code="churn_escalation",
    label="Escalate churn risk",
    template="recommendations/drafts/churn_escalation.txt",
    internal=True,
    escalate=True,
)
DEFAULTS = {"windows": [90, 60, 30], "low_engagement": 0.15, "expires_days": 21}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    contract = picture.active_contract()
    if contract is None:
        return None
    windows = sorted(int(w) for w in p["windows"])
    days = (contract.renewal_date - now.date()).days
    if days < 0 or days > windows[-1]:
        return None
    window = min(w for w in windows if days <= w)
    entered = _midnight(contract.renewal_date) - dt.timedelta(days=window)
    low = picture.engagement_score < float(p["low_engagement"])
    money = fmt_money(contract.value)
    ref = f"contract:{contract.id}"
    evidence = [
        EvidenceItem(
            statement=f"Contract worth {money} a year renews on {fmt_day(contract.renewal_date)} {contract.renewal_date.year} ({days} days away)",
            kind="contract",
            occurred_at=_midnight(contract.renewal_date),
            fact_type="contract",
            fact_id=contract.id,
        )
    ]
    criteria = [Criterion("renewal_window", f"Renewal within {window} days", MET, (ref,))]
    contact_id = picture.best_contact()
    summary = f"their {money} contract renews in {days} days ({fmt_date(contract.renewal_date)})"
    if low:
        evidence.append(
            EvidenceItem(
                statement=(
                    f"Only {picture.inbound_signals_28d} signals from the account in the 28 days to "
                    f"{fmt_day(now)}; engagement {picture.engagement_score:.0%}, product use "
                    f"{picture.usage_events_7d} events in 7 days (vs {picture.usage_events_prev_7d} the week before)"
                ),
                kind="picture",
                occurred_at=None,
                fact_type="picture",
                fact_id=picture.account_id,
            )
        )
        criteria.append(
            Criterion(
                "low_engagement", f"Engagement below {p['low_engagement']}", MET, (f"picture:{picture.account_id}",)
            )
        )
        return Finding(
            playbook=CODE,
            code="churn_risk",
            action_type=CHURN_ESCALATION.code,
            title=f"Churn risk: {picture.account_name}'s {money} renewal in {days} days, engagement low",
            summary=summary + f", yet engagement is down to {picture.engagement_score:.0%}",
            contact_id=contact_id,
            criteria=tuple(criteria),
            evidence=tuple(evidence),
            urgency=min(1.0, 0.6 + 0.4 * (1 - days / windows[-1])),
            confidence=0.6,
            why_now=f"The renewal entered the {window}-day window on {fmt_day(entered)} while engagement is low.",
            counterfactual="If the contract were renewed, or the account became active again.",
            expires_at=entered + dt.timedelta(days=int(p["expires_days"])),
            dedupe_key=f"churn:{contract.id}:{window}",
            stakes=contract.value,
            stated_reason="Accounts that go quiet before renewal churn far more often; an early, senior conversation is the best save.",
            draft_context={"days": days, "renewal_date": fmt_date(contract.renewal_date), "value": money},
        )
    criteria.append(Criterion("low_engagement", f"Engagement below {p['low_engagement']}", NOT_MET))
    return Finding(
        playbook=CODE,
        code="renewal_window",
        action_type=RENEWAL_OUTREACH.code,
        title=f"Start {picture.account_name}'s {money} renewal ({days} days left)",
        summary=summary,
        contact_id=contact_id,
        criteria=tuple(criteria),
        evidence=tuple(evidence),
        urgency=min(1.0, 0.3 + 0.5 * (1 - days / windows[-1])),
        confidence=0.7,
        why_now=f"The renewal entered the {window}-day window on {fmt_day(entered)}.",
        counterfactual="If the contract were renewed or its renewal date moved further out.",
        expires_at=entered + dt.timedelta(days=int(p["expires_days"])),
        dedupe_key=f"renewal:{contract.id}:{window}",
        stakes=contract.value,
        stated_reason="Renewals started early close on time and leave room to discuss expansion instead of discounts.",
        draft_context={"days": days, "renewal_date": fmt_date(contract.renewal_date), "value": money},
    )


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    """The next window boundary (entering 90/60/30 days), or the day after renewal (it drops out)."""
    p = PLAYBOOK.params(params)
    contract = picture.active_contract()
    if contract is None:
        return None
    renewal = _midnight(contract.renewal_date)
    moments = [renewal - dt.timedelta(days=int(w)) for w in p["windows"]] + [renewal + dt.timedelta(days=1)]
    return earliest_after(moments, now)


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Renewal approaching",
        actions=(RENEWAL_OUTREACH, CHURN_ESCALATION),
        evaluate=evaluate,
        story_order=4,
        history_noun="renewal e-mails",
        defaults=DEFAULTS,
        param_help={
            "windows": "Days before renewal at which to act. Example: [90, 60, 30]",
            "low_engagement": "Engagement score (0–1) below which the renewal is a churn risk. Example: 0.15",
            "expires_days": "Days after entering a window before the recommendation expires. Example: 21",
        },
        next_check=next_check,
        explain_drop=lambda picture, now, params=None: (
            "The contract is no longer active or its renewal moved out of the window."
        ),
        order=40,
    )
)
