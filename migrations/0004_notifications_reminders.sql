-- depends: 0003_events
-- Clinical notifications (rules fired by a report, and observation-due
-- reminders) and the reminder tasks that the worker runs.

CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    type            varchar(40) NOT NULL,
    severity        varchar(10) NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    patient         bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    report          bigint REFERENCES reports (id) ON DELETE SET NULL,
    message         text NOT NULL CHECK (message <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX notifications_order_idx ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_patient_idx ON notifications (patient, created_at DESC);
CREATE INDEX notifications_open_idx ON notifications (created_at DESC) WHERE acknowledged_at IS NULL;
-- An edited report that still meets a rule does not raise the same
-- notification again while the first is unacknowledged.
CREATE UNIQUE INDEX notifications_open_per_report_idx
    ON notifications (report, type) WHERE acknowledged_at IS NULL AND report IS NOT NULL;

-- One observation-due reminder per patient, due at time + monitoring_interval
-- of the patient's latest report. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED and hold them for a lease (locked_until); a worker
-- that dies loses its lease and another takes the row over. fired_at marks a
-- reminder that has produced its notification: it never fires again unless a
-- newer report moves it (which bumps version and clears fired_at).
CREATE TABLE reminders (
    id           bigserial PRIMARY KEY,
    patient      bigint NOT NULL UNIQUE REFERENCES patients (id) ON DELETE CASCADE,
    report       bigint REFERENCES reports (id) ON DELETE SET NULL,
    run_at       timestamptz NOT NULL,
    version      bigint NOT NULL DEFAULT 1,
    locked_by    text,
    locked_until timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    fired_at     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reminders_due_idx ON reminders (run_at) WHERE fired_at IS NULL;
