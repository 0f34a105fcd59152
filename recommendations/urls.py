from django.urls import path

from recommendations import views

app_name = "recommendations"
urlpatterns = [
    path("", views.inbox, name="home"),
    path("autopilot/", views.inbox, {"autopilot": True}, name="autopilot"),
    path("inbox/count", views.inbox_count, name="count"),
    path("recommendations/<int:pk>/", views.detail, name="detail"),
    path("recommendations/<int:pk>/act", views.act, name="act"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("preferences/", views.preferences, name="preferences"),
]
