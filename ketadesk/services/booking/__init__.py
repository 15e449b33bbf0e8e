"""Booking, moving and changing the status of appointments, and planning series."""
