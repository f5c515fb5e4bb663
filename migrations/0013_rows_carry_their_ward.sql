-- depends: 0012_audit_and_users_order_indexes
-- A ward's lists cost what the ward costs. Reports, their history and
-- notifications carry the ward of their patient, kept by the database, and
-- each list's order has an index within a ward, so a nurse's page is one
-- index range however many years, or other wards, the tables hold. Before,
-- the need-to-know filter ("the patient is one of the ward's patients") had
-- PostgreSQL hash every patient the ward ever had for each query, or walk
-- the reports of every other ward to find a small ward's few.
--
-- The column is routing, not content: the service does not show it (a
-- report's ward is its patient's), and it follows the patient when they
-- move to another ward, history included (a ward sees the whole history of
-- the patients it cares for). A deleted patient's history keeps the ward
-- they were in. The columns stay nullable: history of patients deleted
-- before wards existed (0009) has no ward and is seen by staff only, and
-- the foreign keys already make every other row's patient, so its ward, exist.

ALTER TABLE reports ADD COLUMN ward bigint;
ALTER TABLE report_history ADD COLUMN ward bigint;  -- after the reports columns, as record_report_history copies r.*
ALTER TABLE notifications ADD COLUMN ward bigint;

-- History is append-only but for the change reason and, now, the ward.
CREATE OR REPLACE FUNCTION report_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'history_change_reason' - 'ward') <> (to_jsonb(OLD) - 'history_change_reason' - 'ward') THEN
        RAISE EXCEPTION 'report_history is append-only: only history_change_reason may change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

UPDATE reports r SET ward = p.ward FROM patients p WHERE p.id = r.patient;
UPDATE notifications n SET ward = p.ward FROM patients p WHERE p.id = n.patient;
UPDATE report_history h SET ward = p.ward FROM patients p WHERE p.id = h.patient;
UPDATE report_history h SET ward = d.ward FROM deleted_patients d WHERE d.id = h.patient AND h.ward IS NULL;

-- A row takes its patient's ward when it is written or given another
-- patient. FOR SHARE waits for a move of that patient still in flight and
-- then reads where it went, so no row is filed under the ward it left.
CREATE FUNCTION take_patient_ward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.ward INTO NEW.ward FROM patients p WHERE p.id = NEW.patient FOR SHARE;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reports_take_patient_ward
    BEFORE INSERT OR UPDATE OF patient ON reports
    FOR EACH ROW EXECUTE FUNCTION take_patient_ward();
CREATE TRIGGER notifications_take_patient_ward
    BEFORE INSERT OR UPDATE OF patient ON notifications
    FOR EACH ROW EXECUTE FUNCTION take_patient_ward();
CREATE TRIGGER report_history_take_patient_ward
    BEFORE INSERT ON report_history
    FOR EACH ROW EXECUTE FUNCTION take_patient_ward();

-- A patient moved to another ward takes their rows along. Each statement
-- reads afresh, after any writer holding the patient has committed (they
-- hold it FOR SHARE at least, above), so a row written meanwhile moves too.
CREATE FUNCTION patient_rows_follow_ward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reports SET ward = NEW.ward WHERE patient = NEW.id;
    UPDATE notifications SET ward = NEW.ward WHERE patient = NEW.id;
    UPDATE report_history SET ward = NEW.ward WHERE patient = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER patients_rows_follow_ward
    AFTER UPDATE OF ward ON patients
    FOR EACH ROW WHEN (OLD.ward IS DISTINCT FROM NEW.ward)
    EXECUTE FUNCTION patient_rows_follow_ward();

-- Each list's order within a ward (the order indexes serve staff).
CREATE INDEX reports_ward_time_idx ON reports (ward, time DESC, id DESC);
CREATE INDEX report_history_ward_order_idx ON report_history (ward, history_date DESC, history_id DESC);
CREATE INDEX notifications_ward_order_idx ON notifications (ward, created_at DESC, id DESC);
-- The board's open notifications of a ward, without walking its closed ones.
CREATE INDEX notifications_ward_open_idx ON notifications (ward, created_at DESC, id DESC)
    WHERE acknowledged_at IS NULL;

ANALYZE reports;
ANALYZE report_history;
ANALYZE notifications;
