"""Speed to lead: a demo request or form submission deserves an answer within the hour."""

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
    fmt_date,
    fmt_moment,
)

CODE = "speed_to_lead"
SPEED_TO_LEAD = Action(
    code="speed_to_lead",
    label="Answer a new lead fast",
    template="recommendations/drafts/speed_to_lead.txt",
    urgent=True,
)
DEFAULTS = {"max_age_hours": 72}


def _open_lead(picture: PictureFacts, now: dt.datetime, p: Params) -> SignalFact | None:
    since = now - dt.timedelta(hours=int(p["max_age_hours"]))
    for form in reversed(picture.forms):
        if not (since < form.occurred_at <= now):
            continue
        if form.contact_id is not None and not picture.reachable(form.contact_id):
            continue
        answered = any(
            e.occurred_at > form.occurred_at and (form.contact_id is None or e.contact_id == form.contact_id)
            for e in (*picture.emails_sent, *picture.meetings)
        )
        if not answered:
            return form
    return None


def evaluate(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> Finding | None:
    p = PLAYBOOK.params(params)
    form = _open_lead(picture, now, p)
    if form is None:
        return None
    contact_id = form.contact_id or picture.best_contact()
    name = picture.contact_name(contact_id) if contact_id else ""
    what = form.name or "a form"
    # "New lead: Ada Lovelace at Newcorp", or, with no one known yet, "New lead at Newcorp: “Demo request”"
    title = f"New lead: {name} at {picture.account_name}" if name else f"New lead at {picture.account_name}: “{what}”"
    name = name or f"Someone at {picture.account_name}"
    hours = (now - form.occurred_at).total_seconds() / 3600
    return Finding(
        playbook=CODE,
        code="new_lead",
        action_type=SPEED_TO_LEAD.code,
        title=f"{title} — answer now",
        summary=f"{name} submitted “{what}” on {fmt_moment(form.occurred_at)}",
        contact_id=contact_id,
        criteria=(
            Criterion("form_submitted", f"Submitted “{what}”", MET, (f"signal:{form.id}",)),
            Criterion("not_answered", "No e-mail or meeting since", MET, (f"signal:{form.id}",)),
        ),
        evidence=(
            EvidenceItem(
                statement=f"{name} submitted “{what}” on {fmt_moment(form.occurred_at)}",
                kind=form.kind,
                occurred_at=form.occurred_at,
                signal_id=form.id,
            ),
        ),
        urgency=1.0 if hours < 24 else 0.8,
        confidence=0.85,
        why_now=f"The request came in on {fmt_moment(form.occurred_at)}; leads answered within the hour convert best.",
        counterfactual=f"If anyone had e-mailed or met {name} after {fmt_date(form.occurred_at)}.",
        expires_at=form.occurred_at + dt.timedelta(hours=int(p["max_age_hours"])),
        dedupe_key=f"{CODE}:{form.id}",
        stakes=max(picture.open_opportunity_amount, picture.arr),
        stated_reason="A lead answered within an hour is several times likelier to become a conversation than one answered the next day.",
        draft_context={"form": what},
    )


def next_check(picture: PictureFacts, now: dt.datetime, params: Params | None = None) -> dt.datetime | None:
    p = PLAYBOOK.params(params)
    form = _open_lead(picture, now, p)
    return form.occurred_at + dt.timedelta(hours=int(p["max_age_hours"])) if form else None


PLAYBOOK = register(
    Playbook(
        code=CODE,
        label="Speed to lead",
        actions=(SPEED_TO_LEAD,),
        evaluate=evaluate,
        story_order=0,
        history_noun="answers to new leads",
        defaults=DEFAULTS,
        param_help={"max_age_hours": "Hours after a form submission during which to suggest answering. Example: 72"},
        next_check=next_check,
        explain_drop=lambda picture, now, params=None: (
            "The lead was answered (an e-mail or meeting followed) or grew too old."
        ),
        order=1,
    )
)
