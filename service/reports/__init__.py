"""Reports: one observation round of a patient, and their audit trail."""
