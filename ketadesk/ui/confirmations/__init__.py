"""The Confirmations view: calling the coming visits, and ticking their checklist."""
