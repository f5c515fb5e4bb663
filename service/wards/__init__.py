"""Wards: a patient is in one; users belong to any number."""
