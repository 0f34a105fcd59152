"""WSGI entry point used only by the ingestion benchmark's gunicorn: the production app plus the
bench-only ceiling views of ``bench.urls_ingestion`` (never part of the production URLs)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesai.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
settings.ROOT_URLCONF = "bench.urls_ingestion"
