-- depends: 0008_idempotency_keys
-- Wards: need-to-know access and fan-out per ward. A patient is in one
-- ward; a user belongs to any number; staff and superusers see every ward.
-- One ward is made for what exists, and every existing patient and user is
-- put in it, so a deployment with one ward behaves as before.

CREATE TABLE wards (
    id         bigserial PRIMARY KEY,
    name       varchar(100) NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO wards (name) VALUES ('Dengue ward');

ALTER TABLE patients ADD COLUMN ward bigint REFERENCES wards (id) ON DELETE RESTRICT;
UPDATE patients SET ward = (SELECT min(id) FROM wards);
ALTER TABLE patients ALTER COLUMN ward SET NOT NULL;
-- A ward's patients, newest admission first (the board, need-to-know lists).
CREATE INDEX patients_ward_idx ON patients (ward, admission_date DESC, id DESC);

CREATE TABLE user_wards (
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ward    bigint NOT NULL REFERENCES wards (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, ward)
);
CREATE INDEX user_wards_ward_idx ON user_wards (ward);
INSERT INTO user_wards (user_id, ward) SELECT u.id, w.id FROM users u CROSS JOIN wards w;

-- The ward a deleted patient was in: their history (which outlives them)
-- stays visible to that ward's users.
CREATE TABLE deleted_patients (
    id         bigint PRIMARY KEY,
    ward       bigint NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deleted_patients_ward_idx ON deleted_patients (ward);

-- Who sees an event: the ward of the patient it concerns, and for a patient
-- moved to another ward the ward it left (its screens get a delete). NULL:
-- staff only (and internal events, which no screen gets).
ALTER TABLE events ADD COLUMN ward bigint, ADD COLUMN prior_ward bigint;

-- Every change to users, wards and ward membership: who, what, before and
-- after, when. Append-only (the trigger refuses UPDATE and DELETE).
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       bigint,  -- no foreign key: the trail outlives the user
    action      varchar(40) NOT NULL,
    target_type varchar(20) NOT NULL CHECK (target_type IN ('user', 'ward')),
    target_id   bigint NOT NULL,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
