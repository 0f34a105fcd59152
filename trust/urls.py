from django.urls import path

from trust import views

app_name = "trust"
urlpatterns = [
    path("trust/", views.trust_dashboard, name="dashboard"),
    path("trust/pause", views.pause_all, name="pause-all"),
]
