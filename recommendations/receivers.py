"""Receivers: stored signals queue analysis of their accounts (connected in AppConfig.ready)."""
