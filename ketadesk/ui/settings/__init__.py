"""Clinic settings: rooms, equipment, staff, users, availability and rules."""
