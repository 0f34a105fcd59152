"""Wrong contact teaches the contact choice, by role (a rep's rejections of a playbook's e-mails to
one seniority) and by account (that very person, for that playbook).

``rechoose`` runs after the playbooks: a finding addressed to someone the record says is the wrong
person is evaluated again with that person (or that role) set aside, so the playbook's own rule picks
the next best contact. If nobody else fits, the finding stays as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from recommendations.playbooks import Playbook
from recommendations.playbooks.base import Finding, PictureFacts

#: A role is avoided for a rep and playbook after this many wrong-contact rejections among that rep's
#: last :data:`ROLE_WINDOW` reviews of the playbook's e-mails to that role, making up at least
#: :data:`ROLE_MIN_SHARE` of them (the last few, so a rep's change of mind is followed quickly).
ROLE_WINDOW = 4
ROLE_MIN_REJECTIONS = 2
ROLE_MIN_SHARE = 0.5
LEARNED_REASON = "learned: the rep said this is the wrong contact"


def role_key(owner, playbook: str, seniority: str) -> str:
    return f"{owner}|{playbook}|{seniority}"


def person_key(account_id: int, contact_id: int, playbook: str) -> str:
    return f"{account_id}|{contact_id}|{playbook}"


def avoided(params: dict, *, owner, playbook: str, account_id: int, contact_id: int, seniority: str) -> bool:
    if params.get("people", {}).get(person_key(account_id, contact_id, playbook), 0) > 0:
        return True
    wrong, total = params.get("roles", {}).get(role_key(owner, playbook, seniority), (0, 0))
    return wrong >= ROLE_MIN_REJECTIONS and wrong >= ROLE_MIN_SHARE * total


def role_record(params: dict, *, owner, playbook: str, seniority: str) -> tuple[int, int]:
    """(wrong-contact rejections, reviews) among the rep's last :data:`ROLE_WINDOW` reviews of the
    playbook's e-mails to this role (0, 0 when there are none)."""
    wrong, total = (params or {}).get("roles", {}).get(role_key(owner, playbook, seniority), (0, 0))
    return int(wrong), int(total)


def wrong_contact_chance(wrong: int, total: int) -> float:
    """P(the rep calls this role the wrong contact again), from their last reviews of it: one pseudo-review
    of the right contact keeps a single rejection from reading as certain (1 of 1 → 0.5, 2 of 4 → 0.4)."""
    return wrong / (total + 1) if wrong > 0 else 0.0


def rechoose(*, params: dict, facts: PictureFacts, findings: Sequence[Finding], owner,
             playbooks: dict[str, tuple[Playbook, dict]], now: dt.datetime) -> list[Finding]:  # fmt: skip
    """The findings, with those addressed to an avoided contact re-evaluated without them."""
    if not params:
        return list(findings)
    result = []
    for finding in findings:
        contact = facts.contact(finding.contact_id)
        entry = playbooks.get(finding.playbook)
        if contact is None or entry is None:
            result.append(finding)
            continue
        aside = {
            c.id: LEARNED_REASON
            for c in facts.contacts
            if avoided(params, owner=owner, playbook=finding.playbook, account_id=facts.account_id, contact_id=c.id,
                       seniority=c.seniority)
        }  # fmt: skip
        if contact.id not in aside:
            result.append(finding)
            continue
        playbook, pb_params = entry
        again = playbook.evaluate(replace(facts, suppressed={**aside, **facts.suppressed}), now, pb_params)
        result.append(again if again is not None and again.contact_id not in aside else finding)
    return result
