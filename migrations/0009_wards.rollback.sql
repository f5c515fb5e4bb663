DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
ALTER TABLE events DROP COLUMN ward, DROP COLUMN prior_ward;
DROP TABLE user_wards;
DROP TABLE deleted_patients;
ALTER TABLE patients DROP COLUMN ward;
DROP TABLE wards;
