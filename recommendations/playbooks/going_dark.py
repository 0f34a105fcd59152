"""Going dark: an account that was engaged has been silent for weeks.

Engaged means steady activity, not one busy afternoon: at least ``min_prior_signals`` inbound signals
on at least ``min_active_days`` distinct days in the 4 weeks before the silence. Twenty page views in
one or two sessions and then nothing is a visit that ended, not a relationship that went quiet.

E-mails sent since the silence began are follow-ups' business (the unanswered-outreach playbook) for a
while: a follow-up is due a few working days after each e-mail and stays open some days more. Once the
newest of them is older than ``outreach_grace_days``, that playbook has had its say (followed up, or
suggested another person) and the account is still silent: it has gone dark all the same, and the
e-mails that got no answer are part of the story."""

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
    earliest_after,
    fmt_date,
    fmt_day,
    plural,
)

CODE = "going_dark"
RE_ENGAGE = Action(
    code="re_engage",
    label="Re-engage a quiet account",
    template="recommendations/drafts/re_engage.txt",
)
DEFAULTS = {
    "silent_weeks": 3,
    "min_prior_signals": 10,
    "max_silent_weeks": 12,
    "expires_days": 14,
    "outreach_grace_days": 10,
    "min_active_days": 4,
}
KIND_WORDS = {
    "page_view": "a page view",
    "product_usage": "product use",
    "email_reply": "an e-mail reply",
    "form_submitted": "a form submission",
    "meeting_booked": "a booked meeting",
}


def _engaged(picture: PictureFacts, p: Params) -> bool:
    """Enough signals on enough days before the silence (the days are read once the account has been
    quiet a week; until then only the count can say no)."""
    days = picture.active_days_before_silence
    return picture.activity_before_silence >= int(p["min_prior_signals"]) and (
        days is None or days >= int(p["min_active_days"])
    )


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    last = picture.last_activity_at
    if last is None or picture.active_days_before_silence is None or not _engaged(picture, p):
        return None
    silent = now - last
    if not (dt.timedelta(weeks=int(p["silent_weeks"])) <= silent < dt.timedelta(weeks=int(p["max_silent_weeks"]))):
        return None
    unanswered = unanswered_since(picture, last)
    if unanswered and now < unanswered[-1].occurred_at + dt.timedelta(days=int(p["outreach_grace_days"])):
        return None  # recent outreach since the silence began: its follow-ups are the next step
    contact_id = picture.best_contact(prefer=tuple(r.contact_id for r in reversed(picture.human_replies())))
    if picture.contacts and contact_id is None:
        return None
    became_dark = last + dt.timedelta(weeks=int(p["silent_weeks"]))
    days = silent.days
    ref = (
        f"signal:{picture.last_activity_signal_id}"
        if picture.last_activity_signal_id
        else f"picture:{picture.account_id}"
    )
    return Finding(
        playbook=CODE,
        code="silent",
        action_type=RE_ENGAGE.code,
        title=f"{picture.account_name} has gone quiet for {days} days",
        summary=(
            f"{picture.account_name} has been silent for {days} days since {fmt_day(last)}, after "
            f"{picture.activity_before_silence} signals on {picture.active_days_before_silence} days in the 4 weeks before"
            + (
                f"; {plural(len(unanswered), 'e-mail')} since got no answer (last {fmt_day(unanswered[-1].occurred_at)})"
                if unanswered
                else ""
            )
        ),
        contact_id=contact_id,
        criteria=(
            Criterion(
                "was_engaged",
                f"At least {p['min_prior_signals']} signals on at least {p['min_active_days']} days in the 4 weeks "
                "before the silence",
                MET,
                (ref,),
            ),
            Criterion("silent", f"No activity for {p['silent_weeks']} weeks", MET, (ref,)),
        ),
        evidence=(
            EvidenceItem(
                statement=(
                    f"Last activity on {fmt_day(last)} {last.year}, after {picture.activity_before_silence} "
                    f"signals on {picture.active_days_before_silence} days in the 4 weeks before; nothing in the "
                    f"{days} days since"
                ),
                kind="silence",
                occurred_at=last,
                signal_id=picture.last_activity_signal_id,
                fact_type="" if picture.last_activity_signal_id else "picture",
                fact_id=None if picture.last_activity_signal_id else picture.account_id,
            ),
            *(
                EvidenceItem(
                    statement=f"E-mail to {picture.contact_name(e.contact_id)} on {fmt_day(e.occurred_at)} got no answer",
                    kind=e.kind,
                    occurred_at=e.occurred_at,
                    signal_id=e.id,
                )
                for e in unanswered[-3:]
            ),
        ),
        urgency=0.4,
        confidence=0.5,
        why_now=f"The silence reached {p['silent_weeks']} weeks on {fmt_day(became_dark)}.",
        counterfactual=f"If anyone at {picture.account_name} had been active after {fmt_date(last)}.",
        expires_at=became_dark + dt.timedelta(days=int(p["expires_days"])),
        dedupe_key=f"{CODE}:{picture.last_activity_signal_id or int(last.timestamp())}",
        stakes=max(picture.open_opportunity_amount, picture.arr),
        stated_reason="An engaged account that goes quiet has usually hit a blocker or a competitor; reaching out early recovers many.",
        draft_context={"silent_days": days},
    )


def unanswered_since(picture: PictureFacts, last: dt.datetime) -> tuple[SignalFact, ...]:
    """The e-mails sent to the account after its last activity (none of them got an answer), oldest first."""
    return tuple(sorted((e for e in picture.emails_sent if e.occurred_at > last), key=lambda e: e.occurred_at))


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    p = PLAYBOOK.params(params)
    last = picture.last_activity_at
    if last is None or not _engaged(picture, p):
        return None
    moments = [
        last + dt.timedelta(weeks=int(p["silent_weeks"])),
        last + dt.timedelta(weeks=int(p["max_silent_weeks"])),
    ]
    unanswered = unanswered_since(picture, last)
    if unanswered:  # when the outreach's grace ends
        moments.append(unanswered[-1].occurred_at + dt.timedelta(days=int(p["outreach_grace_days"])))
    return earliest_after(moments, now)


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Going dark",
        actions=(RE_ENGAGE,),
        evaluate=evaluate,
        story_order=6,
        history_noun="re-engagement e-mails",
        defaults=DEFAULTS,
        param_help={
            "silent_weeks": "Weeks without activity (at least 1) before an engaged account counts as dark. Example: 3",
            "min_prior_signals": "Signals in the 4 weeks before the silence that make an account 'engaged'. Example: 10",
            "min_active_days": "Distinct days with activity in those 4 weeks that make it 'engaged' (steady, not one "
            "burst). Example: 4",
            "max_silent_weeks": "After this many weeks stop suggesting re-engagement. Example: 12",
            "expires_days": "Days the recommendation stays open. Example: 14",
            "outreach_grace_days": "Days after an e-mail to a silent account during which following it up, not "
            "re-engaging, is the next step. Example: 10",
        },
        next_check=next_check,
        explain_drop=lambda picture, now, params=None: "The account became active again, or was just contacted.",
        order=60,
    )
)
