from django.apps import AppConfig


class SalesaiConfig(AppConfig):
    """The wiring itself, as an app only for its one small table (the worker heartbeat)."""

    name = "salesai"
    verbose_name = "salesai (the house)"
