"""Ingestion URLs: the Segment HTTP Tracking API at its usual paths, our own API under /api/v1/."""

from django.urls import path

from signals import api, inbound

urlpatterns = [
    path("v1/batch", api.SegmentBatchView.as_view(), name="segment-batch"),
    path("v1/track", api.SegmentTrackView.as_view(), name="segment-track"),
    path("v1/page", api.SegmentPageView.as_view(), name="segment-page"),
    path("v1/screen", api.SegmentScreenView.as_view(), name="segment-screen"),
    path("v1/identify", api.SegmentIdentifyView.as_view(), name="segment-identify"),
    path("v1/group", api.SegmentGroupView.as_view(), name="segment-group"),
    path("v1/alias", api.SegmentAliasView.as_view(), name="segment-alias"),
    path("api/v1/signals", api.SignalsView.as_view(), name="signals-ingest"),
    path("api/v1/crm/accounts", api.CrmAccountsView.as_view(), name="crm-accounts"),
    path("api/v1/inbound/email", inbound.InboundEmailView.as_view(), name="inbound-email"),
]
