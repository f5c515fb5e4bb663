-- depends: 0001_users_and_tokens
-- Clinical data: patients, their reports (observation rounds) and the
-- append-only audit trail of every report change.

CREATE TABLE patients (
    id             bigserial PRIMARY KEY,
    first_name     varchar(240) NOT NULL CHECK (length(first_name) >= 1),
    last_name      varchar(240) NOT NULL CHECK (length(last_name) >= 1),
    admission_date timestamptz NOT NULL,
    dismissal_date timestamptz CHECK (dismissal_date >= admission_date),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- The list order: newest admission first.
CREATE INDEX patients_admission_idx ON patients (admission_date DESC, id DESC);

CREATE TABLE reports (
    id                      bigserial PRIMARY KEY,
    patient                 bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    time                    timestamptz NOT NULL,
    day_of_fever            integer CHECK (day_of_fever BETWEEN 0 AND 30),
    fever                   numeric(4, 2) CHECK (fever BETWEEN 30 AND 45),
    pulse                   integer CHECK (pulse BETWEEN 0 AND 300),
    respirations            integer CHECK (respirations BETWEEN 0 AND 100),
    bp_systolic             integer CHECK (bp_systolic BETWEEN 0 AND 300),
    bp_diastolic            integer CHECK (bp_diastolic BETWEEN 0 AND 300),
    diet                    text NOT NULL DEFAULT '',
    oral_fluids             integer CHECK (oral_fluids >= 0),
    parenteral_fluids       integer CHECK (parenteral_fluids >= 0),
    other_fluids            integer CHECK (other_fluids >= 0),
    intake_8h               integer CHECK (intake_8h >= 0),
    urine_output            integer CHECK (urine_output >= 0),
    uf                      integer CHECK (uf >= 0),
    emesis                  integer CHECK (emesis >= 0),
    drainage                integer CHECK (drainage >= 0),
    output_8h               integer CHECK (output_8h >= 0),
    pain_score              integer CHECK (pain_score BETWEEN 0 AND 10),
    abdominal_circumference integer CHECK (abdominal_circumference BETWEEN 0 AND 300),
    stools                  integer CHECK (stools >= 0),
    urine_count             integer CHECK (urine_count >= 0),
    weight                  numeric(5, 2) CHECK (weight BETWEEN 0 AND 500),
    height                  integer CHECK (height BETWEEN 0 AND 300),
    o2_saturation           integer CHECK (o2_saturation BETWEEN 0 AND 100),
    hematocrit              integer CHECK (hematocrit BETWEEN 0 AND 100),
    platelet_count          integer CHECK (platelet_count >= 0),
    wbc_count               numeric(6, 2) CHECK (wbc_count >= 0),
    status                  varchar(10) NOT NULL DEFAULT 'febrile'
                            CHECK (status IN ('febrile', 'critical', 'recovery')),
    monitoring_interval     integer NOT NULL CHECK (monitoring_interval BETWEEN 1 AND 24),
    warning_signs           text NOT NULL DEFAULT '',
    additional_info         text NOT NULL DEFAULT '',
    medical_advice          text NOT NULL DEFAULT '',
    created_by              bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reports_diastolic_not_above_systolic CHECK (bp_diastolic <= bp_systolic)
);
-- The list orders: newest observation first, overall and per patient.
CREATE INDEX reports_time_idx ON reports (time DESC, id DESC);
CREATE INDEX reports_patient_time_idx ON reports (patient, time DESC, id DESC);
CREATE INDEX reports_created_by_idx ON reports (created_by);

-- One row per change of a report (django-simple-history's layout). The
-- history columns come FIRST and the report's columns follow in the same
-- order as in "reports", so a history row is written as
-- (history columns..., r.*). A migration that adds a column to "reports"
-- must add the same column to "report_history" (a test checks this).
-- No foreign keys to patients or reports: history outlives what it records.
CREATE TABLE report_history (
    history_id              bigserial PRIMARY KEY,
    history_date            timestamptz NOT NULL DEFAULT now(),
    history_change_reason   varchar(100),
    history_type            char(1) NOT NULL CHECK (history_type IN ('+', '~', '-')),
    history_user            bigint REFERENCES users (id) ON DELETE SET NULL,
    id                      bigint NOT NULL,
    patient                 bigint NOT NULL,
    time                    timestamptz NOT NULL,
    day_of_fever            integer,
    fever                   numeric(4, 2),
    pulse                   integer,
    respirations            integer,
    bp_systolic             integer,
    bp_diastolic            integer,
    diet                    text NOT NULL,
    oral_fluids             integer,
    parenteral_fluids       integer,
    other_fluids            integer,
    intake_8h               integer,
    urine_output            integer,
    uf                      integer,
    emesis                  integer,
    drainage                integer,
    output_8h               integer,
    pain_score              integer,
    abdominal_circumference integer,
    stools                  integer,
    urine_count             integer,
    weight                  numeric(5, 2),
    height                  integer,
    o2_saturation           integer,
    hematocrit              integer,
    platelet_count          integer,
    wbc_count               numeric(6, 2),
    status                  varchar(10) NOT NULL,
    monitoring_interval     integer NOT NULL,
    warning_signs           text NOT NULL,
    additional_info         text NOT NULL,
    medical_advice          text NOT NULL,
    created_by              bigint,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE INDEX report_history_order_idx ON report_history (history_date DESC, history_id DESC);
CREATE INDEX report_history_report_idx ON report_history (id, history_date DESC);
CREATE INDEX report_history_patient_idx ON report_history (patient, history_date DESC);

-- Writes the history row of one change of report r; every create, update,
-- delete and restore of a report goes through here, in its own transaction.
CREATE FUNCTION record_report_history(r reports, kind char, actor bigint, reason text)
RETURNS report_history LANGUAGE sql AS $$
    INSERT INTO report_history
    SELECT nextval('report_history_history_id_seq'), now(), reason, kind, actor, r.*
    RETURNING *;
$$;

-- History is append-only: only the change reason of a row may be edited.
CREATE FUNCTION report_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'history_change_reason') <> (to_jsonb(OLD) - 'history_change_reason') THEN
        RAISE EXCEPTION 'report_history is append-only: only history_change_reason may change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER report_history_append_only
    BEFORE UPDATE ON report_history
    FOR EACH ROW EXECUTE FUNCTION report_history_guard();
