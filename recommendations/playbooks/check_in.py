"""Not-now check-in: a "not now" reply names a time (or we pick a default); check in when it comes."""

from __future__ import annotations

import datetime as dt

from recommendations.playbooks import Action, Params, Playbook, register
from recommendations.playbooks.base import (
    MET,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    SignalFact,
    check_in_due,
    fmt_date,
    fmt_day,
)

CODE = "check_in"
CHECK_IN = Action(
    code="check_in",
    label="Scheduled check-in",
    template="recommendations/drafts/check_in.txt",
)
DEFAULTS = {"default_days": 30, "expires_days": 10}
#: An e-mail this close to the check-in date (or after it) is the check-in; one sent earlier, for
#: another reason, does not replace the check-in the contact asked for.
EARLY_CHECK_IN = dt.timedelta(days=7)


def _pending(picture: PictureFacts, p: Params) -> tuple[SignalFact, dt.datetime] | None:
    """The newest not-now reply still standing, and when to check in."""
    humans = picture.human_replies()
    for reply in reversed(humans):
        if reply.intent != "not_now" or not picture.reachable(reply.contact_id):
            continue
        later_reply = any(r.contact_id == reply.contact_id and r.occurred_at > reply.occurred_at for r in humans)
        if later_reply:
            continue
        due = check_in_due(reply, int(p["default_days"]))
        checked_in = any(
            e.contact_id == reply.contact_id
            and e.occurred_at > reply.occurred_at
            and e.occurred_at >= due - EARLY_CHECK_IN
            for e in picture.emails_sent
        )
        if checked_in:
            continue
        return reply, due
    return None


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    pending = _pending(picture, p)
    if pending is None:
        return None
    reply, due = pending
    if now < due:
        return None
    name = picture.contact_name(reply.contact_id)
    asked = "the date they named" if reply.check_in_at else f"{p['default_days']} days later"
    return Finding(
        playbook=CODE,
        code="not_now_due",
        action_type=CHECK_IN.code,
        title=f"Check in with {name} at {picture.account_name}",
        summary=f"{name} said “not now” on {fmt_day(reply.occurred_at)} and the check-in they asked for fell due on {fmt_day(due)}",
        contact_id=reply.contact_id,
        criteria=(
            Criterion("not_now_reply", "A “not now” reply", MET, (f"signal:{reply.id}",)),
            Criterion("check_in_due", f"Check-in date reached ({asked})", MET, (f"signal:{reply.id}",)),
        ),
        evidence=(
            EvidenceItem(
                statement=f"{name} replied “not now” on {fmt_day(reply.occurred_at)}, check in on {fmt_day(due)}",
                kind=reply.kind,
                occurred_at=reply.occurred_at,
                signal_id=reply.id,
            ),
        ),
        urgency=0.5,
        confidence=0.65,
        why_now=f"The check-in date {fmt_day(due)} has arrived ({asked}).",
        counterfactual=f"If {name} had written again after {fmt_date(reply.occurred_at)}, or been e-mailed from {fmt_date(due - EARLY_CHECK_IN)} on.",
        expires_at=due + dt.timedelta(days=int(p["expires_days"])),
        dedupe_key=f"{CODE}:{reply.id}",
        stakes=max(picture.open_opportunity_amount, picture.arr),
        stated_reason="Checking in when the prospect asked you to shows you listened; it is the warmest follow-up there is.",
        draft_context={"not_now_on": fmt_date(reply.occurred_at)},
    )


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    pending = _pending(picture, PLAYBOOK.params(params))
    if pending and pending[1] > now:
        return pending[1]
    return None


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Not-now check-in",
        actions=(CHECK_IN,),
        evaluate=evaluate,
        story_order=2,
        history_noun="check-ins",
        defaults=DEFAULTS,
        param_help={
            "default_days": "Days after a “not now” reply naming no date before checking in. Example: 30",
            "expires_days": "Days after the check-in date before the recommendation expires. Example: 10",
        },
        next_check=next_check,
        explain_drop=lambda picture, now, params=None: (
            "The contact wrote again, was e-mailed near the check-in date, or asked not to be contacted."
        ),
        order=20,
    )
)
