"""Late-cancellation and no-show fees: charged with the status change, waived, listed."""
