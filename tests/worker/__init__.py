"""Tests of the reminder worker as real processes."""
