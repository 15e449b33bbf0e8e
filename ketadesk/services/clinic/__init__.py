"""Opening a clinic, backups, the integrity check and the server connection."""
