from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        # The one place where the flow turns upward (DESIGN.md §2): stored signals → analysis,
        # and outcomes of what we did → the trust model's track record.
        from recommendations import outcomes, receivers  # noqa: F401
