"""Printable documents and iCalendar/CSV export."""
