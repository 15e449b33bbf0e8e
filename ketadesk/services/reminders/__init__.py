"""E-mail reminders: the SMTP settings, each patient's consent, the messages and the outbox."""
