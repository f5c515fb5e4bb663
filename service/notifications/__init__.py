"""Clinical notifications: rules run on every saved report, stored and pushed."""
