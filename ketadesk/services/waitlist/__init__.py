"""The waitlist (ASAP list): who waits for an earlier place, and offering freed places."""
