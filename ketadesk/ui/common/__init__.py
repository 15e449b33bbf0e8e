"""What every window shares: the application, background work, icons, colours, sizing, table
models, Qt workarounds."""
