"""Patients: the people on the ward."""
