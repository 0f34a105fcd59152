"""Multi-thread: a large deal that rests on one person, or on no one senior enough to sign. Proposes
whom to bring in (a known contact, by role) or, knowing no one, asks the champion for a referral."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    by_seniority,
    engaged_people,
    engagements,
    fmt_day,
    fmt_money,
    is_senior,
    stage_label,
)

CODE = "multi_thread"
MULTI_THREAD = Action(
    code="multi_thread", label="Bring more people into a deal", template="recommendations/drafts/multi_thread.txt"
)
DEFAULTS = {"min_amount": 25000, "engaged_days": 60, "expires_days": 14}


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    since = now - dt.timedelta(days=int(p["engaged_days"]))
    for deal in picture.deals:
        if deal.amount < Decimal(str(p["min_amount"])):
            continue
        engaged = engaged_people(picture, deal, since)
        if not engaged:
            continue  # no one is talking at all: that is a deal at risk (deal_rescue), not a thin one
        people = [picture.contact(cid) for cid in engaged]
        senior = [c for c in people if is_senior(c)]
        if len(engaged) > 1 and senior:
            continue  # several people engaged, one of them senior: a healthy committee
        problem = "single_threaded" if len(engaged) == 1 else "no_senior"
        champion = people[0]
        candidates = [c for c in by_seniority(picture, (c.id for c in picture.contacts)) if c.id not in engaged]
        if problem == "no_senior":
            candidates = [c for c in candidates if is_senior(c)]
        invite = candidates[0] if candidates else None
        if invite is None and (champion is None or not picture.reachable(champion.id)):
            continue
        last = next(r for r in reversed(engagements(picture)) if r.contact_id == engaged[0])
        who = ", ".join(f"{c.display_name} ({c.title or c.seniority})" for c in people if c)
        if invite is not None:
            ask = f"bring in {invite.display_name} ({invite.title or invite.seniority})"
            why = (
                f"{invite.display_name} is the most senior person we know at {picture.account_name} who is not "
                "in the conversation yet"
            )
        else:
            ask = f"ask {champion.display_name} who else should weigh in"
            why = f"we know no one else at {picture.account_name} to bring in"
        gap = "only one person is engaged" if problem == "single_threaded" else "no one senior is engaged"
        return Finding(
            playbook=CODE,
            code=problem,
            action_type=MULTI_THREAD.code,
            title=f"{deal.name} ({fmt_money(deal.amount)}) rests on {who}: {ask}",
            summary=f"the {fmt_money(deal.amount)} deal {deal.name} in {stage_label(deal.stage)} has {gap} ({who})",
            contact_id=invite.id if invite else champion.id,
            criteria=(
                Criterion("large_deal", f"Deal of at least {fmt_money(Decimal(str(p['min_amount'])))}", MET),
                Criterion(problem, gap.capitalize(), MET, (f"signal:{last.id}",)),
            ),
            evidence=(
                EvidenceItem(
                    statement=f"{fmt_money(deal.amount)} deal {deal.name}, in {stage_label(deal.stage)}",
                    kind="deal",
                    occurred_at=deal.stage_changed_at,
                    fact_type="opportunity",
                    fact_id=deal.id,
                ),
                EvidenceItem(
                    statement=f"In the last {p['engaged_days']} days only {who} engaged (replies, meetings); last on "
                    f"{fmt_day(last.occurred_at)} {last.occurred_at.year}",
                    kind="engagement",
                    occurred_at=last.occurred_at,
                    signal_id=last.id,
                ),
            ),
            urgency=0.45,
            confidence=0.5,
            why_now=f"{deal.name} is worth {fmt_money(deal.amount)} and {gap}; {why}.",
            counterfactual="If a second person, one of them a director or above, had written back about the deal.",
            expires_at=now + dt.timedelta(days=int(p["expires_days"])),
            dedupe_key=f"{CODE}:{deal.id}:{problem}:{invite.id if invite else 'referral'}",
            stakes=deal.amount,
            stated_reason="Deals with several engaged people, one of them able to sign, close more often and "
            "survive a champion leaving.",
            draft_context={
                "deal_name": deal.name,
                "champion_name": champion.display_name if champion else "",
                "referral_ask": invite is None,
            },
        )
    return None


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Single-threaded deal",
        actions=(MULTI_THREAD,),
        evaluate=evaluate,
        story_order=3,
        history_noun="multi-threading e-mails",
        defaults=DEFAULTS,
        param_help={
            "min_amount": "Deals of at least this amount need more than one engaged person. Example: 25000",
            "engaged_days": "A person counts as engaged after writing back or booking a meeting within this many "
            "days. Example: 60",
            "expires_days": "Days the recommendation stays open. Example: 14",
        },
        explain_drop=lambda picture, now, params=None: "More people, one of them senior, are now engaged in the deal.",
        order=36,
    )
)
