"""The review inbox: where reps judge recommendations, and the account page they read them against.

One URL per page; htmx asks the same URL for a partial of the page's own template
(``recommendations/inbox.html#card`` …). Every read goes through ``recommendations_for`` /
``accounts_for``, so an id outside a person's scope is a 404 for pages and partials alike. Every
action is a real ``<form method="post">``: a plain POST redirects with a message, an htmx POST answers
the one card it changed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.selectors import accounts_for, deals_of
from recommendations import presentation
from recommendations.forms import ApproveForm, InboxFilterForm, PreferencesForm, RejectForm, SnoozeForm, VersionForm
from recommendations.models import Evidence, Recommendation, Review
from recommendations.selectors import INBOX_ORDER, recommendations_for, shown_json, timeline, with_shown_json
from recommendations.services import review
from recommendations.services.notifications import profile_for, update_notification_preferences
from recommendations.services.outgoing import escalates, outgoing_for
from recommendations.services.ownership import assign_account_owner, assignable_reps
from recommendations.services.recipient import change_contact
from salesai import clock
from salesai.api_errors import DomainError
from salesai.roles import is_manager, manager_addresses, person_name
from salesai.text import single_line

PAGE_SIZE = 20  # infinite scroll fetches the next page as the last card comes into view
ACTIONS = ("approve", "edit", "reject", "snooze", "cancel", "contact")
PANELS = ("edit", "reject", "snooze", "contact")


def cards_queryset(*, user, scoped: QuerySet[Recommendation] | None = None) -> QuerySet[Recommendation]:
    """Everything a card shows, in a fixed number of queries whatever the page size: the card's
    relations joined, the evidence prefetched in one query. ``scoped`` is for ids already read
    through ``recommendations_for`` (the inbox's page), so the scope is not joined a second time."""
    base = scoped if scoped is not None else recommendations_for(user=user)
    return base.select_related("account__owner", "contact", "trust_decision").prefetch_related(
        Prefetch(
            "evidence",
            # person: whose signal it was, for "11 visits by 2 people" (the same query, one join)
            queryset=Evidence.objects.annotate(person=F("signal__contact_id")).order_by("-occurred_at", "id"),
        )
    )


def decorate(recommendations: list[Recommendation], *, now: dt.datetime) -> list[Recommendation]:
    """Give each loaded row the words the inbox shows (``presentation``) and what approving it would
    really send (``outgoing``). The managers' addresses are read once, and only if a row escalates."""
    managers = manager_addresses() if any(r.is_internal and escalates(r) for r in recommendations) else []
    for rec in recommendations:
        rec.outgoing = outgoing_for(rec, managers=managers)
        rec.action_label = rec.get_action_type_display()
        rec.why = presentation.why_line(rec)
        rec.age = presentation.short_age(rec.created_at, now=now)
        rec.expires_line = presentation.expires_line(rec, now=now) if rec.status == "pending" else ""
        rec.evidence_line = presentation.evidence_summary(rec.evidence.all(), now=now)
        for fact in rec.evidence.all():  # the prefetched rows the template lists: each date once
            fact.shown = presentation.without_trailing_date(fact.statement) if fact.occurred_at else fact.statement
        rec.criteria_list = presentation.criteria(rec)
        rec.reasons = presentation.review_reasons(rec)
        rec.contact_reason = presentation.contact_reason(rec)
        rec.done_line = presentation.left_behind(rec, outgoing=rec.outgoing, now=now)
        rec.to_phrase = presentation.recipient_phrase(rec.outgoing)
        rec.wait = presentation.wait_text(rec, now=now)
    return recommendations


def rows_queryset() -> QuerySet[Recommendation]:
    """What a compact row shows (account · action · why-now · priority · age · expiry): the account
    joined, nothing else. A row's detail (evidence, what will be sent, trust) loads when it is opened."""
    return Recommendation.objects.select_related("account")


def decorate_rows(recommendations: list[Recommendation], *, now: dt.datetime) -> list[Recommendation]:
    """The words of a compact row; ``decorate`` adds the rest when the row's detail is asked for."""
    for rec in recommendations:
        rec.action_label = rec.get_action_type_display()
        rec.why = presentation.why_line(rec)
        rec.age = presentation.short_age(rec.created_at, now=now)
        rec.expires_line = presentation.expires_line(rec, now=now) if rec.status == "pending" else ""
    return recommendations


def filter_inbox(queryset: QuerySet[Recommendation], filters: dict) -> QuerySet[Recommendation]:
    status = filters.get("status")
    if status and status != "all":
        queryset = queryset.filter(status=status)
    if filters.get("action_type"):
        queryset = queryset.filter(action_type=filters["action_type"])
    if filters.get("account"):
        queryset = queryset.filter(account_id=filters["account"])
    if filters.get("rep"):
        queryset = queryset.filter(account__owner_id=filters["rep"])
    if filters.get("unassigned"):
        queryset = queryset.filter(account__owner__isnull=True)
    if q := (filters.get("q") or "").strip():
        queryset = queryset.filter(
            Q(title__icontains=q)
            | Q(account__name__icontains=q)
            | Q(account__domain__icontains=q)
            | Q(contact__name__icontains=q)
            | Q(contact__email__icontains=q)
        )
    if status == Recommendation.Status.SCHEDULED:
        return queryset.order_by("scheduled_for", "pk")
    return queryset.order_by(*INBOX_ORDER)


def _tab_counts(user) -> dict[str, int]:
    open_tabs = [Recommendation.Status.PENDING, Recommendation.Status.SCHEDULED]
    return (
        recommendations_for(user=user)
        .filter(status__in=open_tabs)
        .aggregate(
            pending=Count("pk", filter=Q(status=Recommendation.Status.PENDING)),
            scheduled=Count("pk", filter=Q(status=Recommendation.Status.SCHEDULED)),
        )
    )


def _snooze_days(user) -> list[dict]:
    """The snooze panel's quick choices, as days in the person's own time zone."""
    today = clock.now().astimezone(zoneinfo.ZoneInfo(_rep_time_zone(user))).date()
    monday = today + dt.timedelta(days=7 - today.weekday())
    return [
        {"label": "Tomorrow", "value": today + dt.timedelta(days=1)},
        {"label": f"Monday {monday.day} {monday:%b}", "value": monday},
        {"label": "In two weeks", "value": today + dt.timedelta(days=14)},
    ]


def _card_context(request: HttpRequest) -> dict:
    """What every card needs besides its recommendation (computed once per response; the snooze
    days only when a snooze panel is rendered, which a page of rows never does)."""
    return {
        "reject_reasons": Review.RejectReason.choices,
        "tomorrow": (clock.now() + dt.timedelta(days=1)).date(),
        "snooze_days": lambda: _snooze_days(request.user),
        "reps": lambda: list(assignable_reps()),  # only an unowned account's row asks (one query)
        "now": clock.now(),
        "is_manager": is_manager(request.user),
    }


@login_required
@require_GET
def inbox(request: HttpRequest, *, autopilot: bool = False) -> HttpResponse:
    """The inbox (`/`) and the Autopilot tab (`/autopilot/`, status scheduled)."""
    manager = is_manager(request.user)
    form = InboxFilterForm(request.GET or None, manager=manager)
    filters = form.cleaned() if request.GET else {"status": Recommendation.Status.PENDING}
    if autopilot:
        filters["status"] = Recommendation.Status.SCHEDULED
    # Page over ids first (the database walks rec_inbox_idx and stops after a page), then load only
    # that page's cards with their relations: the joins never touch the other 9,975 rows.
    ids = filter_inbox(recommendations_for(user=request.user), filters).values_list("pk", flat=True)
    paginator = Paginator(ids, PAGE_SIZE)
    counts = None
    if not (request.htmx and not request.htmx.boosted):
        counts = _tab_counts(request.user)
        unfiltered = not any(filters.get(k) for k in ("q", "action_type", "account", "rep", "unassigned"))
        if unfiltered and filters["status"] in counts:
            paginator.count = counts[filters["status"]]  # the tab count is this very COUNT: ask once
    page = paginator.get_page(request.GET.get("page"))
    page_ids = list(page.object_list)
    # page_ids came through recommendations_for above: the scope is already applied to them. Only
    # the compact rows are rendered; each row's detail is fetched from ``row`` when it is opened.
    rows = rows_queryset().in_bulk(page_ids)
    page.object_list = decorate_rows([rows[pk] for pk in page_ids if pk in rows], now=clock.now())
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **_card_context(request),
        "form": form,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "autopilot": autopilot,
        "lazy_panels": True,  # edit/reject/snooze forms load on demand: a page of cards stays light
        "lazy_body": True,  # so does each row's detail (``row``), fetched when the row is opened
        "next_url": request.get_full_path(),
        "loaded_at": clock.now().isoformat(),
    }
    if filters.get("account"):
        context["filter_account"] = accounts_for(user=request.user).filter(pk=filters["account"]).first()
    if request.htmx and not request.htmx.boosted:
        return render(request, "recommendations/inbox.html#cards", context)
    context["counts"] = counts
    return render(request, "recommendations/inbox.html", context)


@login_required
@require_GET
def inbox_count(request: HttpRequest) -> HttpResponse:
    """The cheap endpoint the count badge polls: pending count, and how many arrived since the page
    was loaded (``?since=ISO``). Also announced as an ``inbox-count`` client event (HX-Trigger)."""
    counts = _tab_counts(request.user)
    try:
        since = parse_datetime(request.GET.get("since", "").replace(" ", "+"))
    except ValueError:  # well-formed but impossible, e.g. month 13: treat as absent, never a 500
        since = None
    new = 0
    if since is not None:
        new = (
            recommendations_for(user=request.user)
            .filter(status=Recommendation.Status.PENDING, created_at__gt=since)
            .count()
        )
    response = render(
        request,
        "recommendations/inbox.html#badge",
        {"counts": counts, "new_count": new, "since": request.GET.get("since", "")},
    )
    return trigger_client_event(response, "inbox-count", {"pending": counts["pending"], "new": new})


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One card on its own page: where e-mailed notices link, and where a plain POST with errors lands."""
    recommendation = get_object_or_404(cards_queryset(user=request.user), pk=pk)
    decorate([recommendation], now=clock.now())
    panel = request.GET.get("panel", "")
    context = {
        **_card_context(request),
        "rec": recommendation,
        "expanded": True,
        "contact_choices": lambda: recommendation.account.contacts.filter(do_not_contact=False).order_by("name"),
        "open_panel": panel if panel in PANELS else "",
        "next_url": request.get_full_path(),
    }
    if request.htmx:
        # The inbox asked for this card with a panel open: its forms return to the inbox page.
        context["next_url"] = _inbox_url(request)
        return render(request, "recommendations/inbox.html#card", context)
    return render(request, "recommendations/detail.html", context)


@login_required
@require_GET
def row(request: HttpRequest, pk: int) -> HttpResponse:
    """A row's detail, fetched when the inbox row is opened: the why, the evidence, what will be sent,
    the criteria and the actions. Read through ``recommendations_for`` like the inbox, so another
    rep's id is a 404. Without JavaScript the row links to ``detail`` instead."""
    recommendation = get_object_or_404(cards_queryset(user=request.user), pk=pk)
    decorate([recommendation], now=clock.now())
    context = {
        **_card_context(request),
        "rec": recommendation,
        "lazy_panels": True,
        "next_url": _inbox_url(request),
    }
    return render(request, "recommendations/inbox.html#row_body", context)


def _inbox_url(request: HttpRequest) -> str:
    """Where a row's forms return to: the inbox page htmx asked from, else the inbox."""
    current = (request.htmx.current_url_abs_path if request.htmx else "") or ""
    return current if current.startswith("/") else reverse("recommendations:home")


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("recommendations:home")


def _rep_time_zone(user) -> str:
    return profile_for(user).time_zone


@login_required
@require_POST
def act(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve, edit-then-approve, reject, snooze or cancel one recommendation (the submit button's
    ``action`` picks which). Answers the card for htmx, a redirect with a message otherwise."""
    recommendation = get_object_or_404(recommendations_for(user=request.user), pk=pk)
    action = request.POST.get("action", "")
    form = None
    if action not in ACTIONS:
        return _card_response(request, pk, error="Choose approve, edit, reject, snooze or cancel.", status=400)
    try:
        if action == "approve":
            form = VersionForm(request.POST)
            if form.is_valid():
                review.approve_recommendation(
                    recommendation=recommendation, user=request.user, version=form.cleaned_data["version"]
                )
        elif action == "edit":
            form = ApproveForm(request.POST)
            if form.is_valid():
                review.approve_recommendation(
                    recommendation=recommendation,
                    user=request.user,
                    version=form.cleaned_data["version"],
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                )
        elif action == "reject":
            form = RejectForm(request.POST)
            if form.is_valid():
                review.reject_recommendation(
                    recommendation=recommendation,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                    reason_text=form.cleaned_data["reason_text"],
                )
        elif action == "snooze":
            form = SnoozeForm(request.POST, time_zone=_rep_time_zone(request.user))
            if form.is_valid():
                until = form.until_datetime()
                review.snooze_recommendation(recommendation=recommendation, user=request.user, until=until)
        elif action == "cancel":
            review.cancel_scheduled(recommendation=recommendation, user=request.user)
        elif action == "contact":
            contact_id = request.POST.get("contact", "")
            if not contact_id.isdigit():
                raise review.ReviewError(
                    "Choose a contact of this account.", code="invalid", status_code=400, fields={"contact": "Missing."}
                )
            change_contact(recommendation=recommendation, contact_id=int(contact_id), user=request.user)
    except DomainError as exc:
        if request.htmx:
            return _card_response(request, pk, error=exc.message)
        messages.error(request, f"{recommendation.title}: {exc.message}")
        return HttpResponseRedirect(_safe_next(request))
    if form is not None and not form.is_valid():
        # the hidden version has no panel of its own: its error is the card's
        error = " ".join(form.errors.get("version", [])) if action in ("approve", "edit") else ""
        return _card_response(
            request, pk, form=form, form_action=action, error=error, status=200 if request.htmx else 400
        )
    if request.htmx:
        stays_open = action in ("cancel", "contact")  # still to decide: the row stays open rather than closing
        notice = {
            "cancel": "Undone: nothing was sent. It is back in your review.",
            "contact": f"Now to {recommendation.contact.display_name if recommendation.contact else 'nobody'}: "
            "check the greeting, then approve.",
        }.get(action, "")
        response = _card_response(request, pk, collapsed=not stays_open, notice=notice, oob_counts=True)
        return trigger_client_event(response, "inbox-changed", {"id": pk, "action": action})
    row = decorate([get_object_or_404(cards_queryset(user=request.user), pk=pk)], now=clock.now())[0]
    messages.success(request, f"{row.account.name}, {row.action_label.lower()}: {row.done_line}.")
    return HttpResponseRedirect(_safe_next(request))


def _card_response(
    request: HttpRequest,
    pk: int,
    *,
    form=None,
    form_action: str = "",
    error: str = "",
    notice: str = "",
    status: int = 200,
    collapsed: bool = False,
    oob_counts: bool = False,
) -> HttpResponse:
    """The card re-read fresh (its new status), as a fragment for htmx or on its own page otherwise.

    ``collapsed``: the one line an action leaves ("Sending to Ines in 30 s · Undo"); ``oob_counts``:
    the tab counts ride along as out-of-band swaps, so they change without a reload."""
    recommendation = get_object_or_404(cards_queryset(user=request.user), pk=pk)
    decorate([recommendation], now=clock.now())
    context = {
        **_card_context(request),
        "rec": recommendation,
        "collapsed": collapsed and request.htmx,
        "expanded": True,
        "action_form": form,
        "form_action": form_action,
        "open_panel": form_action,
        "card_error": error,
        "card_notice": notice,
        "next_url": _safe_next(request),
    }
    if not request.htmx:
        return render(request, "recommendations/detail.html", context, status=status)
    response = render(request, "recommendations/inbox.html#card", context, status=status)
    if oob_counts:
        counts = {"counts": _tab_counts(request.user)}
        response.content += render(request, "recommendations/inbox.html#oob", counts).content
    return response


@login_required
@require_POST
def account_owner(request: HttpRequest, pk: int) -> HttpResponse:
    """A manager assigns the account's owner (from an inbox row or the account page); back where it came from."""
    account = get_object_or_404(accounts_for(user=request.user), pk=pk)
    try:
        owner_id = int(request.POST.get("owner", ""))
    except ValueError:
        owner_id = 0
    try:
        assign_account_owner(account=account, owner_id=owner_id, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(_safe_next(request))
    owner = person_name(account.owner)
    messages.success(request, f"{account.name} now belongs to {owner}.")
    return HttpResponseRedirect(_safe_next(request))


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The account's shared picture: scores, key facts, renewal, suppressed contacts, the signal
    timeline (anchors ``#signal-<id>``) and its recommendations past and present."""
    # What outside sources sent (signal properties, website traits) is read as text and decoded only
    # when shallow enough (selectors.shown_json): one deeply nested payload must not break the page.
    account = get_object_or_404(
        with_shown_json(accounts_for(user=request.user).select_related("owner", "picture"), "traits"), pk=pk
    )
    account.traits_shown = shown_json(account.traits_text)
    picture = getattr(account, "picture", None)
    features = picture.features if picture else {}
    signals = timeline(account=account, limit=100)
    recommendations = (
        recommendations_for(user=request.user)
        .filter(account=account)
        .select_related("contact")
        .order_by("-created_at", "-pk")[:50]
    )
    today = clock.now().date()
    contracts = list(account.contracts.order_by("renewal_date"))
    for contract in contracts:
        contract.days_until_renewal = (contract.renewal_date - today).days
    # Suppressed by the flag or by the contact's own words (unsubscribe, not interested, wrong
    # person, a bounce): the engine keeps the reason in the picture.
    reasons = {row.get("contact_id"): row.get("reason", "") for row in features.get("suppressed", [])}
    contacts = list(account.contacts.defer("traits").order_by("do_not_contact", "name"))
    for contact in contacts:
        flag = contact.do_not_contact_reason or "do not contact" if contact.do_not_contact else ""
        contact.suppressed_reason = reasons.get(contact.pk) or flag
    context = {
        "account": account,
        "picture": picture,
        "facts": _facts(features),
        "contracts": contracts,
        "opportunities": deals_of(account=account, now=clock.now()),
        "contacts": contacts,
        "suppressed": [c for c in contacts if c.suppressed_reason],
        "signals": signals,
        "recommendations": recommendations,
        "website_traits": _website_traits(account.traits_shown),
        "reps": lambda: list(assignable_reps()),
        "next_url": request.get_full_path(),
    }
    return render(request, "accounts/account_detail.html", context)


def _website_traits(traits: dict) -> list[tuple[str, str]]:
    """What the website's tracking said about the company, one line per plain value (never authoritative:
    the CRM and the admin own the account's fields; these only filled blanks)."""
    return [
        (single_line(key, max_length=60), single_line(str(value), max_length=200))
        for key, value in sorted(traits.items())[:30]
        if isinstance(value, str | int | float | bool) and not isinstance(key, bool)
    ]


#: Features that are the engine's bookkeeping rather than facts a person reads.
_HIDDEN_FEATURES = frozenset({"findings", "max_signal_id"})


def _fact_value(value) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        try:
            moment = parse_datetime(value) if "T" in value else None
        except ValueError:
            moment = None
        return f"{moment:%d %b %Y, %H:%M}".lstrip("0") if moment else value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(map(str, value))
    if isinstance(value, dict) and all(isinstance(v, str | int | float | bool | None) for v in value.values()):
        # record ids are for machines; amounts read as amounts ("value: 15,000", not "15000.00")
        shown = [
            f"{k.replace('_', ' ')}: {_plain_number(v)}"
            for k, v in value.items()
            if k != "id" and not k.endswith("_id") and v not in (None, "")
        ]
        return ", ".join(shown) or None
    if isinstance(value, int):
        return str(value)
    return None  # nested structures are for machines (the API shows them)


def _plain_number(value) -> str:
    """15000.0 → "15,000"; "15000.00" → "15,000"; anything else as it is."""
    try:
        number = float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None:
        return str(value)
    return f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"


def _facts(features: dict) -> list[tuple[str, str]]:
    """The picture's features as (label, value) rows a person can read."""
    rows = []
    for key, value in sorted((features or {}).items()):
        if key in _HIDDEN_FEATURES or value in (None, "", [], {}):
            continue
        shown = _fact_value(value)
        if shown is not None:
            rows.append((key.replace("_", " ").capitalize(), shown))
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """A person's notice preferences: the morning digest and urgent notices."""
    profile = profile_for(request.user)
    form = PreferencesForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        update_notification_preferences(user=request.user, **{f: form.cleaned_data[f] for f in form.Meta.fields})
        messages.success(request, "Your preferences are saved.")
        return HttpResponseRedirect(reverse("recommendations:preferences"))
    local = clock.now().astimezone(zoneinfo.ZoneInfo(profile.time_zone))
    return render(
        request,
        "recommendations/preferences.html",
        {"form": form, "local_now": local},
        status=400 if form.errors else 200,
    )
