"""Monitoring records, REMS forms, outcome measures and the chair board."""
