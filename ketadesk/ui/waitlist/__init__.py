"""The waitlist view, its entry dialog, and the offer of a freed place."""
