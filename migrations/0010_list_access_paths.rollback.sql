ALTER TABLE notifications RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE reports RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE report_history RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor);
ALTER TABLE events RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_scale_factor);
ALTER TABLE notifications DROP COLUMN acknowledged_reason;
DROP INDEX patients_name_trgm_idx;
DROP INDEX patients_admitted_idx;
DROP INDEX notifications_report_idx;
