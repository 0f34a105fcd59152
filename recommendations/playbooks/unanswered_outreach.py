"""Unanswered outreach: no reply after N business days → follow up; after the last attempt → stop and
try another contact or another channel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from recommendations.playbooks import Action, Params, Playbook, check_in, register
from recommendations.playbooks.base import (
    MET,
    NOT_MET,
    Criterion,
    EvidenceItem,
    Finding,
    PictureFacts,
    SignalFact,
    add_business_days,
    earliest_after,
    fmt_date,
    fmt_day,
    plural,
)

CODE = "unanswered_outreach"
FOLLOW_UP = Action(
    code="follow_up",
    label="Follow up on unanswered outreach",
    template="recommendations/drafts/follow_up.txt",
)
CHANGE_CONTACT = Action(
    code="change_contact",
    label="Try another contact or channel",
    template="recommendations/drafts/change_contact.txt",
    internal=True,
)
DEFAULTS = {"business_days": 3, "max_attempts": 3, "expires_days": 5}


@dataclass(frozen=True)
class Thread:
    contact_id: int
    attempts: tuple[SignalFact, ...]  # e-mails since their last reply (or ever), oldest first
    due: dt.datetime  # when the newest attempt counts as unanswered


def threads(picture: PictureFacts, p: Params) -> list[Thread]:
    """Per reachable contact: the outreach they have not answered (by a reply or a booked meeting).

    A "not now" reply pauses the contact until the check-in it asks for (the date they named, else the
    check-in playbook's default): an e-mail sent to them in between is not an attempt to follow up,
    because nagging someone who asked for time is what "not now" asked us not to do. From the week
    before the check-in date on (where an e-mail counts as the check-in), e-mails count again."""
    result = []
    contact_ids = sorted({e.contact_id for e in picture.emails_sent if e.contact_id})
    for cid in contact_ids:
        if not picture.reachable(cid):
            continue
        answers = [r.occurred_at for r in picture.human_replies() if r.contact_id == cid]
        answers += [m.occurred_at for m in picture.meetings if m.contact_id in (cid, None)]
        last_answer = max(answers) if answers else None
        check_in_at = picture.not_now_until(cid, int(check_in.DEFAULTS["default_days"]))
        if check_in_at is not None:
            last_answer = max(last_answer, check_in_at - check_in.EARLY_CHECK_IN)
        attempts = tuple(
            e
            for e in picture.emails_sent
            if e.contact_id == cid and (last_answer is None or e.occurred_at > last_answer)
        )
        if attempts:
            due = add_business_days(attempts[-1].occurred_at, int(p["business_days"]))
            result.append(Thread(cid, attempts, due))
    return result


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    overdue = sorted((t for t in threads(picture, p) if t.due <= now), key=lambda t: t.due)
    if not overdue:
        return None
    thread = overdue[0]
    max_attempts = int(p["max_attempts"])
    name = picture.contact_name(thread.contact_id)
    first, last = thread.attempts[0], thread.attempts[-1]
    n = len(thread.attempts)
    exhausted = n >= max_attempts
    evidence = tuple(
        EvidenceItem(
            statement=f"E-mail to {name} on {fmt_day(e.occurred_at)}"
            + (f" (“{e.subject}”)" if e.subject else "")
            + " got no reply",
            kind=e.kind,
            occurred_at=e.occurred_at,
            signal_id=e.id,
        )
        for e in thread.attempts[-max_attempts:]
    )
    refs = tuple(e.ref for e in evidence)
    summary = (
        f"{plural(n, 'e-mail')} to {name} since {fmt_day(first.occurred_at)} "
        f"{'has' if n == 1 else 'have'} had no reply (last {fmt_day(last.occurred_at)})"
    )
    common = {
        "playbook": CODE,
        "summary": summary,
        "evidence": evidence,
        "counterfactual": f"If {name} had replied after {fmt_date(last.occurred_at)}.",
        "expires_at": thread.due + dt.timedelta(days=int(p["expires_days"])),
        "stakes": max(picture.open_opportunity_amount, picture.arr),
        "why_now": f"{p['business_days']} working days passed on {fmt_day(thread.due)} since the last e-mail on {fmt_day(last.occurred_at)}.",
    }
    criteria = [
        Criterion("no_reply", f"No reply {p['business_days']} working days after the last e-mail", MET, refs),
        Criterion(
            "attempts_left",
            f"Fewer than {max_attempts} attempts so far",
            NOT_MET if exhausted else MET,
            refs,
        ),
    ]
    if not exhausted:
        return Finding(
            code="follow_up",
            action_type=FOLLOW_UP.code,
            title=f"Follow up with {name} at {picture.account_name} (attempt {n + 1} of {max_attempts})",
            contact_id=thread.contact_id,
            criteria=tuple(criteria),
            urgency=0.45 + 0.05 * n,
            confidence=0.6,
            dedupe_key=f"follow_up:{last.id}",
            stated_reason="Most replies to outreach come after a follow-up, not the first e-mail; a short, useful nudge works best.",
            draft_context={"attempt": n + 1, "max_attempts": max_attempts, "last_subject": last.subject},
            **common,
        )
    others = [
        t.contact_id
        for t in threads(picture, p)
        if len(t.attempts) >= max_attempts and t.contact_id != thread.contact_id
    ]
    alternative = picture.best_contact(exclude=(thread.contact_id, *others))
    alt_name = picture.contact_name(alternative) if alternative else None
    criteria.append(
        Criterion(
            "another_contact",
            "Another reachable contact at the account",
            MET if alternative else NOT_MET,
            (f"contact:{alternative}",) if alternative else (),
        )
    )
    return Finding(
        code="change_contact",
        action_type=CHANGE_CONTACT.code,
        title=(
            f"Stop e-mailing {name}: try {alt_name} at {picture.account_name}"
            if alt_name
            else f"Stop e-mailing {name} at {picture.account_name}: try a call or LinkedIn"
        ),
        contact_id=alternative or thread.contact_id,
        criteria=tuple(criteria),
        urgency=0.4,
        confidence=0.55,
        dedupe_key=f"change_contact:{thread.contact_id}:{last.id}",
        stated_reason="After several unanswered e-mails another one rarely lands; a different person or channel often does.",
        draft_context={"previous_contact": name, "alternative": alt_name, "attempts": n},
        **common,
    )


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    return earliest_after((t.due for t in threads(picture, PLAYBOOK.params(params))), now)


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Unanswered outreach",
        actions=(FOLLOW_UP, CHANGE_CONTACT),
        evaluate=evaluate,
        story_order=3,
        history_noun="follow-ups",
        defaults=DEFAULTS,
        param_help={
            "business_days": "Working days without a reply before following up. Example: 3",
            "max_attempts": "E-mails to one person before suggesting another contact or channel. Example: 3",
            "expires_days": "Days the recommendation stays open once due. Example: 5",
        },
        next_check=next_check,
        explain_drop=lambda picture, now, params=None: (
            "The contact replied or booked a meeting, was e-mailed again, or said “not now” (paused until the check-in)."
        ),
        order=30,
    )
)
