"""The append-only audit log of access changes (users, wards, membership)."""
