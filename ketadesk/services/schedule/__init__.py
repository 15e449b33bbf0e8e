"""The day, staff and week schedules the views draw."""
