-- depends: 0009_wards
-- Access paths for years of data (lists that cost what the ward costs, not
-- what the archive costs), and the housekeeping that keeps tables small.

-- Deleting a report sets notifications.report to NULL: without a full index
-- on it, that scans every notification (only open ones were indexed).
CREATE INDEX notifications_report_idx ON notifications (report);

-- The board: admitted patients (dismissal_date IS NULL) of a ward.
CREATE INDEX patients_admitted_idx ON patients (ward, admission_date DESC, id DESC)
    WHERE dismissal_date IS NULL;

-- ?search= on a patient's name: substring match through trigrams.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX patients_name_trgm_idx ON patients
    USING gin ((first_name || ' ' || last_name) gin_trgm_ops);

-- History by time (?since= / ?until=) within a patient.
-- (report_history_patient_idx already orders by history_date.)

-- Why a notification was closed without a person: "patient dismissed".
ALTER TABLE notifications ADD COLUMN acknowledged_reason varchar(100);

-- Append-heavy tables: vacuum (and freeze) after a smaller share of new rows
-- than the default 20 %, so index-only scans stay cheap and the visibility
-- map current as they grow by millions of rows.
ALTER TABLE events SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE report_history SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE reports SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE notifications SET (autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
