"""The managers' trust page, in plain words: per action type, how often people approved it, what
stands between it and sending on its own (or why it lost that), what autonomy would have done, recent
decisions linked to their recommendations, and reliability over time (inline SVG). The statistics
stay one click away ("The numbers"). A manager can pause all autopilot here (the kill switch)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

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
        return "stopped", "Autopilot paused for everything"
    if policy.mode == TrustPolicy.Mode.PAUSED:
        return "paused", "Paused"
    if policy.mode == TrustPolicy.Mode.REVIEW:
        return "review", "Always reviewed by a person"
    if policy.demoted_at:
        return "demoted", "Lost its autopilot — back to review"
    if record.qualifies:
        return "autonomous", "On autopilot"
    return "learning", "Still learning (a person reviews each)"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def plain_words(policy: TrustPolicy, record: selectors.TrackRecord, status: str) -> list[str]:
    """What the record means, for a person: "Approved 30 of 30 times. salesai needs about 16 more clean
    approvals before it may send these on its own." No statistics (they are under "The numbers")."""
    if record.total == 0:
        said = ["No one has reviewed one yet."]
    else:
        said = [f"People approved it {record.successes} of {record.total} times."]
    if status == "demoted":
        said.append(
            f"salesai stopped sending these on its own on {policy.demoted_at:%-d %b}: {policy.demoted_reason}. "
            f"It earns it back after {_plural(selectors.requalify_reviews(policy), 'clean review')} and a record "
            "as good as before."
        )
    elif status == "autonomous":
        said.append(
            f"salesai may send these on its own, each after a {policy.undo_window_minutes}-minute undo window, "
            f"at most {policy.daily_cap} a day."
        )
    elif status in ("paused", "review", "stopped"):
        said.append("Nothing of this kind goes out without a person's approval.")
    elif record.clean_needed is None:
        said.append("Too many of these were turned down for salesai to send them on its own; people decide.")
    else:
        needed = max(record.clean_needed, record.reviews_needed)
        said.append(
            f"salesai needs about {_plural(needed, 'more clean approval')} before it may send these on its own."
        )
    return said


def _decision_link(reference: str) -> str:
    """``recommendation:8`` → the recommendation's page (trust keeps references as text, by contract)."""
    kind, _, pk = reference.partition(":")
    return reverse("recommendations:detail", args=[int(pk)]) if kind == "recommendation" and pk.isdigit() else ""


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
        decisions = list(TrustDecision.objects.filter(domain=policy.domain)[:RECENT_DECISIONS])
        for decision in decisions:
            decision.link = _decision_link(decision.reference)
        rows.append(
            {
                "policy": policy,
                "label": services.domain_title(policy.domain),
                "plain": plain_words(policy, record, status_code),
                "has_points": any(p["rate"] is not None for p in series),
                "record": record,
                "rate_pct": None if record.success_rate is None else round(record.success_rate * 100),
                "status": status_code,
                "status_label": status_label,
                "shadow": shadow.get(policy.domain, {}),
                "chart": _chart(series, policy.required_reliability),
                "decisions": decisions,
            }
        )
    return render(
        request,
        "trust/dashboard.html",
        {"rows": rows, "kill_switch": selectors.switch() if killed else None, "since": since},
    )


@login_required
@require_POST
def pause_all(request: HttpRequest) -> HttpResponse:
    """A manager pauses (or resumes) everything salesai would do on its own: the kill switch, audited."""
    if not is_manager(request.user):
        raise Http404("No such page.")
    pause = request.POST.get("pause") == "1"
    services.set_kill_switch(on=pause, user=request.user, reason="Paused from the trust page" if pause else "")
    messages.success(
        request,
        "Autopilot is paused: every action waits for a person." if pause else "Autopilot resumed where earned.",
    )
    return HttpResponseRedirect(reverse("trust:dashboard"))
