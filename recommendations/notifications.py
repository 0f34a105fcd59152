"""Proactive notices to reps: the morning digest and immediate notices for urgent recommendations."""
