"""Wrong timing re-times that playbook for that kind of account: after enough "wrong timing"
rejections of a playbook for one segment, its new recommendations there wait :data:`DELAY_DAYS`
(snoozed, visible as such) before they reach the inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from recommendations.models import Recommendation

MIN_REJECTIONS = 3
MIN_SHARE = 0.3
DELAY_DAYS = 3


def timing_key(playbook: str, segment: str) -> str:
    return f"{playbook}|{segment}"


def timing_params(rows: Iterable[dict]) -> dict:
    """(playbook, segment) → [wrong-timing rejections, reviews] from outcome rows."""
    counts: dict[str, list[int]] = {}
    for o in rows:
        pair = counts.setdefault(timing_key(o["playbook"], o["segment"]), [0, 0])
        pair[0] += o["reject_reason"] == "wrong_timing"
        pair[1] += 1
    return {"counts": counts}


def delay_for(params: dict, *, playbook: str, segment: str) -> dt.timedelta | None:
    """How long a new recommendation of ``playbook`` for a ``segment`` account should wait, if at all."""
    wrong, total = params.get("counts", {}).get(timing_key(playbook, segment), (0, 0))
    if wrong >= MIN_REJECTIONS and wrong >= MIN_SHARE * total:
        return dt.timedelta(days=DELAY_DAYS)
    return None


def retime(*, recommendation: Recommendation, params: dict, segment: str, now: dt.datetime) -> bool:
    """Snooze a new, pending recommendation whose playbook reps keep calling too early for this kind
    of account (never one autonomy scheduled: that one trust already judged)."""
    delay = delay_for(params, playbook=recommendation.playbook, segment=segment) if params else None
    if delay is None or recommendation.status != Recommendation.Status.PENDING:
        return False
    recommendation.status, recommendation.snoozed_until = Recommendation.Status.SNOOZED, now + delay
    recommendation.save(update_fields=["status", "snoozed_until"])
    return True
