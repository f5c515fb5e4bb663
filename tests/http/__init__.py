"""Tests over HTTP: every endpoint, error class and the OpenAPI document."""
