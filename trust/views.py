"""The managers' trust page: per domain, the record, the bound against the requirement, autonomy,
shadow-mode counts, recent decisions with their sentences, and reliability over time (inline SVG)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from salesai import clock
from salesai.roles import is_manager
from trust import selectors, services
from trust.models import TrustDecision, TrustPolicy

CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 320, 120, 6
RECENT_DECISIONS = 8


def _chart(points: list[dict], required: float) -> dict:
    """Polylines for the lower bound and the success rate, and the requirement line, in SVG coordinates."""
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return round(CHART_PAD + (1 - value) * inner_h, 1)

    bound = " ".join(f"{round(CHART_PAD + i * step, 1)},{y(p['lower_bound'])}" for i, p in enumerate(points))
    rate = " ".join(
        f"{round(CHART_PAD + i * step, 1)},{y(p['rate'])}" for i, p in enumerate(points) if p["rate"] is not None
    )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "bound": bound,
        "rate": rate,
        "required_y": y(required),
        "pad": CHART_PAD,
        "right": CHART_WIDTH - CHART_PAD,
        "first": points[0]["at"] if points else None,
        "last": points[-1]["at"] if points else None,
    }


def _status(policy: TrustPolicy, record: selectors.TrackRecord, killed: bool) -> tuple[str, str]:
    if killed:
        return "stopped", "Kill switch on"
    if policy.mode == TrustPolicy.Mode.PAUSED:
        return "paused", "Paused"
    if policy.mode == TrustPolicy.Mode.REVIEW:
        return "review", "Always review"
    if policy.demoted_at:
        return "demoted", "Demoted — back to review"
    if record.qualifies:
        return "autonomous", "Autonomous"
    return "learning", "Learning (shadow mode)"


@login_required
def trust_dashboard(request: HttpRequest) -> HttpResponse:
    if not is_manager(request.user):
        raise Http404("No such page.")
    now = clock.now()
    known = set(TrustPolicy.objects.values_list("domain", flat=True))
    known |= set(TrustDecision.objects.values_list("domain", flat=True).distinct())
    policies = [services.policy_for(domain) for domain in sorted(known)]
    since = now - dt.timedelta(days=30)
    shadow = selectors.shadow_counts([p.domain for p in policies], since=since)
    killed = services.kill_switch_on()
    rows = []
    for policy in policies:
        record = selectors.track_record(policy, now=now)
        series = selectors.reliability_series(policy, days=60, now=now)
        status_code, status_label = _status(policy, record, killed)
        rows.append(
            {
                "policy": policy,
                "label": services.domain_label(policy.domain).capitalize(),
                "record": record,
                "rate_pct": None if record.success_rate is None else round(record.success_rate * 100),
                "status": status_code,
                "status_label": status_label,
                "shadow": shadow.get(policy.domain, {}),
                "chart": _chart(series, policy.required_reliability),
                "decisions": list(TrustDecision.objects.filter(domain=policy.domain)[:RECENT_DECISIONS]),
            }
        )
    return render(
        request,
        "trust/dashboard.html",
        {"rows": rows, "kill_switch": selectors.switch() if killed else None, "since": since},
    )
