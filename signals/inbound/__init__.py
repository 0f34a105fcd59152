"""Inbound e-mail: replies and bounces to our outreach, from SendGrid, Mailgun or raw MIME."""
