"""Words from numbers: "why it should work" from peers' real outcomes, and what the confidence is
the probability of. Pure functions over the counts a training run stores in the playbook's params."""

from __future__ import annotations

from recommendations.learning.fit import SEGMENT_LABELS

MIN_PEERS = 10
PEER_DAYS = 90
MIN_SENT_FOR_NOTE = 10
_SENIORITY_PLURAL = {"c_level": "C-level contacts", "vp": "VPs", "director": "directors", "manager": "managers",
                     "individual": "individual contributors"}  # fmt: skip


def peer_key(segment: str, seniority: str) -> str:
    return f"{segment}|{seniority}"


def _who(segment: str, seniority: str) -> str:
    seg = SEGMENT_LABELS.get(segment, segment)
    people = _SENIORITY_PLURAL.get(seniority, "")
    if seg and people:
        return f"{seg} {people}"
    return people or (f"{seg} accounts" if seg else "similar accounts")


def rationale(params: dict | None, *, noun: str, segment: str, seniority: str, fallback: str = "") -> str:
    """ "Of 14 pricing-interest e-mails to mid-market directors in the last 90 days, 6 got a positive
    reply or better (43%)": the closest peers with enough history (same playbook and segment and
    seniority, else segment, else seniority), or a plain statement that there is not enough yet."""
    peers = (params or {}).get("peers", {})
    closest = (0, 0)
    for seg, sen in ((segment, seniority), (segment, ""), ("", seniority)):
        n, positive = peers.get(peer_key(seg, sen), (0, 0))
        if n >= MIN_PEERS and (seg or sen):
            return (f"Of {n} {noun} to {_who(seg, sen)} in the last {PEER_DAYS} days, {positive} got a positive "
                    f"reply or better (a meeting or a deal moving) ({positive / n:.0%}).")  # fmt: skip
        closest = max(closest, (n, positive))
    plain = (f"Not enough history yet: {closest[0]} similar {noun} with a known outcome in the last {PEER_DAYS} "
             f"days ({MIN_PEERS} needed).")  # fmt: skip
    return f"{plain} {fallback}".strip()


def confidence_note(probability: float, params: dict | None) -> str:
    """ "72% chance a rep approves it; 31% of these got a positive reply"."""
    head = f"{probability:.0%} chance a rep approves it"
    sent, positive = (params or {}).get("sent", 0), (params or {}).get("sent_positive", 0)
    if sent >= MIN_SENT_FOR_NOTE:
        return f"{head}; {positive / sent:.0%} of these got a positive reply or better"
    return f"{head}; too few sent yet to say how often they get a positive reply"
