"""Users, passwords and tokens (dj-rest-auth's token mode)."""
