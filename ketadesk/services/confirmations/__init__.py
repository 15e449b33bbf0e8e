"""Confirming the coming visits by phone, and the pre-visit checklist."""
