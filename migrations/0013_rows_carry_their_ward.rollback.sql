DROP INDEX notifications_ward_open_idx;
DROP INDEX notifications_ward_order_idx;
DROP INDEX report_history_ward_order_idx;
DROP INDEX reports_ward_time_idx;
DROP TRIGGER patients_rows_follow_ward ON patients;
DROP FUNCTION patient_rows_follow_ward();
DROP TRIGGER report_history_take_patient_ward ON report_history;
DROP TRIGGER notifications_take_patient_ward ON notifications;
DROP TRIGGER reports_take_patient_ward ON reports;
DROP FUNCTION take_patient_ward();
CREATE OR REPLACE FUNCTION report_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'history_change_reason') <> (to_jsonb(OLD) - 'history_change_reason') THEN
        RAISE EXCEPTION 'report_history is append-only: only history_change_reason may change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
ALTER TABLE notifications DROP COLUMN ward;
ALTER TABLE report_history DROP COLUMN ward;
ALTER TABLE reports DROP COLUMN ward;
