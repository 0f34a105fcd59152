from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "signals"

    def ready(self) -> None:
        from signals import receivers  # noqa: F401 — connects the receivers, in this one visible place
