from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        """Connect the receivers (DESIGN.md §2): stored signals → analysis, and outcomes of what salesai
        did → the trust model's track record. Importing ``receivers`` also registers the tasks."""
        # Imported here, not at the top: apps.py is loaded before any model may be.
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save

        from recommendations import receivers
        from recommendations.learning import receivers as learning
        from recommendations.models import Execution, Review
        from recommendations.playbooks import action_type_choices
        from signals.dispatch import signals_stored
        from trust.services import register_domain_label

        for code, label in action_type_choices():  # one display name per action type, on the trust page too
            register_domain_label(code, label)
        user_logged_in.connect(receivers.ask_for_signature, dispatch_uid="recommendations.ask_for_signature")
        signals_stored.connect(receivers.queue_analysis, dispatch_uid="recommendations.queue_analysis")
        signals_stored.connect(
            receivers.label_autonomous_outcomes, dispatch_uid="recommendations.outcomes.label_autonomous_outcomes"
        )
        signals_stored.connect(learning.on_signals_stored, dispatch_uid="recommendations.learning.followups")
        post_save.connect(learning.on_review_saved, sender=Review, dispatch_uid="recommendations.learning.review")
        post_save.connect(learning.on_execution_saved, sender=Execution, dispatch_uid="recommendations.learning.sent")
