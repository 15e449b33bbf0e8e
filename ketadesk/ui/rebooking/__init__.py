"""The rebooking offer after a cancellation or no-show in a series, and the Fees list."""
