-- depends: 0004_notifications_reminders
-- What the rules look up in a patient's earlier reports (sql/notifications.sql,
-- rule_context: the first hematocrit, the latest weight). Without these every
-- report write scans all of the patient's reports.

CREATE INDEX reports_patient_hematocrit_idx ON reports (patient, time, id) WHERE hematocrit IS NOT NULL;
CREATE INDEX reports_patient_weight_idx ON reports (patient, time, id) WHERE weight IS NOT NULL;
