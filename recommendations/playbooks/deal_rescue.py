"""Deal rescue: an open deal stalled in its stage, whose close date passed or moved out twice, or that
went quiet (no reply from anyone at the account for two weeks while it is open)."""

from __future__ import annotations

import datetime as dt

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    Criterion,
    DealFact,
    EvidenceItem,
    Finding,
    PictureFacts,
    champion_of,
    earliest_after,
    engagements,
    fmt_date,
    fmt_day,
    fmt_money,
    plural,
    stage_label,
)

CODE = "deal_rescue"
RESCUE_DEAL = Action(
    code="rescue_deal", label="Rescue a deal at risk", template="recommendations/drafts/rescue_deal.txt"
)
DEFAULTS = {"stall_days": 30, "max_close_date_pushes": 2, "ghost_days": 14, "expires_days": 7}
#: Which trouble leads when a deal has several (the first found names the finding; all are evidence).
ORDER = ("close_date_passed", "close_date_slipped", "ghosted", "stalled")


def _norm(picture: PictureFacts, deal: DealFact, p: dict) -> tuple[float, str]:
    """Days a deal may stay in its stage, and where that figure comes from."""
    if deal.stage in picture.stage_norms:
        return picture.stage_norms[deal.stage], "75% of won deals left it sooner"
    return float(p["stall_days"]), "the default your manager set"


def _last_reply(picture: PictureFacts):
    """The last time anyone at the account engaged (wrote back or booked a meeting)."""
    engaged = engagements(picture)
    return engaged[-1] if engaged else None


def troubles(picture: PictureFacts, deal: DealFact, now: dt.datetime, p: dict) -> dict[str, EvidenceItem]:
    """code → the dated evidence of each way ``deal`` is at risk (empty for a healthy deal)."""
    found: dict[str, EvidenceItem] = {}
    stage = stage_label(deal.stage)
    days = deal.days_in_stage(now)
    norm, source = _norm(picture, deal, p)
    if deal.close_date and deal.close_date < now.date():
        found["close_date_passed"] = EvidenceItem(
            statement=f"Close date {fmt_day(deal.close_date)} {deal.close_date.year} passed "
            f"{(now.date() - deal.close_date).days} days ago with the deal still open in {stage}",
            kind="close_date",
            occurred_at=dt.datetime.combine(deal.close_date, dt.time(), tzinfo=dt.UTC),
            fact_type="deal_close_date",
            fact_id=deal.id,
        )
    pushes = deal.close_date_pushes
    if len(pushes) >= int(p["max_close_date_pushes"]):
        moves = "; ".join(f"{fmt_date(old)} → {fmt_date(new)} on {fmt_day(at)}" for at, old, new in pushes[-3:])
        found["close_date_slipped"] = EvidenceItem(
            statement=f"The close date moved out {plural(len(pushes), 'time')}: {moves}",
            kind="close_date",
            occurred_at=pushes[-1][0],
            fact_type="deal_close_date_moves",
            fact_id=deal.id,
        )
    ghost = dt.timedelta(days=int(p["ghost_days"]))
    last = _last_reply(picture)
    quiet_since = max(filter(None, (last.occurred_at if last else None, deal.opened_at)), default=None)
    if quiet_since is not None and now - quiet_since >= ghost:
        did = "booked a meeting" if last and last.kind == "meeting_booked" else "wrote"
        said = (
            f"{picture.contact_name(last.contact_id)} last {did} on {fmt_day(last.occurred_at)}"
            if last
            else "no one at the account has written back since the deal opened"
        )
        found["ghosted"] = EvidenceItem(
            statement=f"No reply from anyone at {picture.account_name} for {(now - quiet_since).days} days "
            f"while the deal is open: {said}",
            kind="silence",
            occurred_at=last.occurred_at if last else deal.opened_at,
            signal_id=last.id if last else None,
            fact_type="" if last else "deal",
            fact_id=None if last else deal.id,
        )
    if days is not None and days > norm:
        found["stalled"] = EvidenceItem(
            statement=f"In {stage} since {fmt_day(deal.stage_changed_at)} {deal.stage_changed_at.year}: "
            f"{days} days, over the {norm:.0f}-day norm ({source})",
            kind="stage",
            occurred_at=deal.stage_changed_at,
            fact_type="deal_stage",
            fact_id=deal.id,
            weight=0.9,
        )
    return found


_WHY = {
    "close_date_passed": "its close date passed",
    "close_date_slipped": "its close date keeps moving out",
    "ghosted": "the account stopped answering",
    "stalled": "it has sat in its stage longer than won deals do",
}


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    for deal in picture.deals:
        found = troubles(picture, deal, now, p)
        if not found:
            continue
        lead = next(code for code in ORDER if code in found)
        contact_id = picture.best_contact(prefer=(champion_of(picture, deal), *deal.contact_ids))
        if contact_id is None:
            continue
        stage, days = stage_label(deal.stage), deal.days_in_stage(now)
        close = f"closing {fmt_date(deal.close_date)}" if deal.close_date else "no close date"
        reasons = [_WHY[code] for code in ORDER if code in found]
        return Finding(
            playbook=CODE,
            code=lead,
            action_type=RESCUE_DEAL.code,
            title=f"{deal.name} ({fmt_money(deal.amount)}) is at risk: {_WHY[lead]}",
            summary=(
                f"the {fmt_money(deal.amount)} deal {deal.name} has been in {stage} for "
                f"{plural(days or 0, 'day')} ({close}) and {' and '.join(reasons)}"
            ),
            contact_id=contact_id,
            criteria=tuple(Criterion(code, _WHY[code], MET, (item.ref,)) for code, item in found.items()),
            evidence=tuple(found.values()),
            urgency=0.55 + 0.1 * min(len(found), 3),
            confidence=0.55,
            why_now=f"{deal.name} in {stage} for {plural(days or 0, 'day')}, {close}: {_WHY[lead]}.",
            counterfactual=(
                f"If {deal.name} moved to its next stage, got a close date ahead that held, and someone at "
                f"{picture.account_name} had written back in the last {p['ghost_days']} days."
            ),
            expires_at=now + dt.timedelta(days=int(p["expires_days"])),
            dedupe_key=f"{CODE}:{deal.id}:{deal.stage}:{lead}",
            stakes=deal.amount,
            stated_reason="Deals that stall or slip are usually saved by a direct, specific next step agreed "
            "with the buyer; the longer the silence, the lower the win rate.",
            draft_context={
                "deal_name": deal.name,
                "stage": stage,
                "days_in_stage": days or 0,
                "close_date": fmt_date(deal.close_date) if deal.close_date else "",
                "trouble": lead,
            },
        )
    return None


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    p = PLAYBOOK.params(params)
    moments = []
    last = _last_reply(picture)
    for deal in picture.deals:
        norm, _ = _norm(picture, deal, p)
        if deal.stage_changed_at:
            moments.append(deal.stage_changed_at + dt.timedelta(days=norm + 1))
        if deal.close_date:
            moments.append(dt.datetime.combine(deal.close_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
        quiet_since = max(filter(None, (last.occurred_at if last else None, deal.opened_at)), default=None)
        if quiet_since:
            moments.append(quiet_since + dt.timedelta(days=int(p["ghost_days"])))
    return earliest_after(moments, now)


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Deal at risk",
        actions=(RESCUE_DEAL,),
        evaluate=evaluate,
        story_order=2,
        history_noun="deal-rescue e-mails",
        defaults=DEFAULTS,
        param_help={
            "stall_days": "Days in one stage before a deal counts as stalled, until 5 won deals set the norm "
            "for that stage (their 75th percentile). Example: 30",
            "max_close_date_pushes": "Times the close date may move out before the deal counts as slipping. Example: 2",
            "ghost_days": "Days without a reply from anyone at the account while a deal is open. Example: 14",
            "expires_days": "Days the recommendation stays open. Example: 7",
        },
        next_check=next_check,
        explain_drop=lambda picture, now, params=None: "The deal moved on, closed, or the account wrote back.",
        order=35,
    )
)
