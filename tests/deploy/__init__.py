"""Tests of what runs the service: migrations, gunicorn, compose files, backups."""
