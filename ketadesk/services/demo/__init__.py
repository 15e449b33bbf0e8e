"""The demo clinic, Harbor Ketamine & Wellness."""
