"""A missed or cancelled series session: a make-up, a waitlist entry, or one short."""
