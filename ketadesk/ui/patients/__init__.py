"""Patient search, form, record and measure trend."""
