"""Receivers turning what followed our actions (replies, bounces, undo) into trust outcomes."""
