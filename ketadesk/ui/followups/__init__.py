"""The follow-up queue and the recall lists."""
