"""A URLconf for tests that serves django-anymail's webhook views, as ``signals.urls`` does once
``ANYMAIL_WEBHOOK_SECRET`` is set (the setting is read when the URLs are loaded)."""

from django.urls import include, path

urlpatterns = [path("anymail/", include("anymail.urls"))]
