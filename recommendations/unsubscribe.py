"""``/unsubscribe/<token>``: the link of every e-mail's ``List-Unsubscribe`` header.

POST unsubscribes (RFC 8058 one-click: mail clients POST ``List-Unsubscribe=One-Click`` without a
session or CSRF token); GET only shows a button that POSTs, because mail scanners follow every link of
a message and must not unsubscribe anyone. A forged or unsigned token changes nothing (400)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from recommendations.services import compliance
from salesai import clock

_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{}</title></head><body><main>{}</main></body></html>'


INVALID = mark_safe("<p>This unsubscribe link is not valid.</p>")
FORM = mark_safe(
    '<h1>Unsubscribe</h1><form method="post"><button type="submit" name="List-Unsubscribe" '
    'value="One-Click">Stop e-mails to me</button></form>'
)


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(format_html(_PAGE, title, body), status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        if compliance.contact_for_token(token) is None:
            return _page("Invalid link", INVALID, status=400)
        return _page("Unsubscribe", FORM)
    contact = compliance.unsubscribe(token=token, now=clock.now())
    if contact is None:
        return _page("Invalid link", INVALID, status=400)
    return _page("Unsubscribed", format_html("<p>Done: we will not e-mail {} again.</p>", contact.email))
