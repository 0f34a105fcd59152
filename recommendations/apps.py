from django.apps import AppConfig

from signals.dispatch import signals_stored


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        """Connect the receivers (DESIGN.md §2): stored signals → analysis, and outcomes of what salesai
        did → the trust model's track record. Importing ``receivers`` also registers the tasks."""
        from recommendations import receivers

        signals_stored.connect(receivers.queue_analysis, dispatch_uid="recommendations.queue_analysis")
        signals_stored.connect(
            receivers.label_autonomous_outcomes, dispatch_uid="recommendations.outcomes.label_autonomous_outcomes"
        )
