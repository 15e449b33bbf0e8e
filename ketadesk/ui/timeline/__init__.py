"""The day and week views, their geometry, drag and drop, and undo."""
