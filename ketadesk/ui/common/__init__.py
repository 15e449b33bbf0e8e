"""What every window shares: the application, background work, icons, Qt workarounds."""
