"""The audit trail of reports as a resource: read, annotate, restore."""
