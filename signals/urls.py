"""Ingestion URLs: the Segment HTTP Tracking API at its usual paths, our own API under /api/v1/, and
django-anymail's inbound views under /anymail/ once ``ANYMAIL_WEBHOOK_SECRET`` is set (they have no
authentication of their own for SendGrid, so they are not served without it)."""

from django.conf import settings
from django.urls import include, path

from signals.crm.api import CrmAccountsView
from signals.generic.api import SignalsView
from signals.inbound.api import InboundEmailView
from signals.segment import api as segment

urlpatterns = [
    path("v1/batch", segment.SegmentBatchView.as_view(), name="segment-batch"),
    path("v1/track", segment.SegmentTrackView.as_view(), name="segment-track"),
    path("v1/page", segment.SegmentPageView.as_view(), name="segment-page"),
    path("v1/screen", segment.SegmentScreenView.as_view(), name="segment-screen"),
    path("v1/identify", segment.SegmentIdentifyView.as_view(), name="segment-identify"),
    path("v1/group", segment.SegmentGroupView.as_view(), name="segment-group"),
    path("v1/alias", segment.SegmentAliasView.as_view(), name="segment-alias"),
    path("api/v1/signals", SignalsView.as_view(), name="signals-ingest"),
    path("api/v1/crm/accounts", CrmAccountsView.as_view(), name="crm-accounts"),
    path("api/v1/inbound/email", InboundEmailView.as_view(), name="inbound-email"),
]
if (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET"):
    urlpatterns.append(path("anymail/", include("anymail.urls")))
