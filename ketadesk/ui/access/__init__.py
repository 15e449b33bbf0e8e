"""Sign-in, idle lock and the audit viewer."""
