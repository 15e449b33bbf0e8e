"""Follow-ups owed after each session, and the recall lists."""
