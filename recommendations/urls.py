from django.urls import path

from recommendations import api, unsubscribe, views

app_name = "recommendations"
urlpatterns = [
    path("", views.inbox, name="home"),
    path("autopilot/", views.inbox, {"autopilot": True}, name="autopilot"),
    path("inbox/count", views.inbox_count, name="count"),
    path("recommendations/<int:pk>/", views.detail, name="detail"),
    path("recommendations/<int:pk>/row", views.row, name="row"),
    path("recommendations/<int:pk>/act", views.act, name="act"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/owner", views.account_owner, name="account-owner"),
    path("preferences/", views.preferences, name="preferences"),
    path("unsubscribe/<str:token>", unsubscribe.unsubscribe, name="unsubscribe"),
    # the API (DESIGN.md §4)
    path("api/v1/recommendations", api.RecommendationListView.as_view(), name="api-list"),
    path("api/v1/recommendations/<int:pk>", api.RecommendationDetailView.as_view(), name="api-detail"),
    path("api/v1/recommendations/<int:pk>/approve", api.ApproveView.as_view(), name="api-approve"),
    path("api/v1/recommendations/<int:pk>/reject", api.RejectView.as_view(), name="api-reject"),
    path("api/v1/recommendations/<int:pk>/snooze", api.SnoozeView.as_view(), name="api-snooze"),
    path("api/v1/recommendations/<int:pk>/cancel", api.CancelView.as_view(), name="api-cancel"),
    path("api/v1/accounts/<int:pk>/picture", api.AccountPictureView.as_view(), name="api-picture"),
]
