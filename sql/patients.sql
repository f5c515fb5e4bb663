-- Patients. Lists: newest admission first.

-- name: list_patients
SELECT id, first_name, last_name, admission_date, dismissal_date, created_at, updated_at
  FROM patients
 ORDER BY admission_date DESC, id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: count_patients
SELECT count(*) AS count FROM patients;

-- name: get_patient
SELECT id, first_name, last_name, admission_date, dismissal_date, created_at, updated_at
  FROM patients
 WHERE id = %(id)s;

-- name: lock_patient
SELECT id, first_name, last_name, admission_date, dismissal_date, created_at, updated_at
  FROM patients
 WHERE id = %(id)s
   FOR UPDATE;

-- name: lock_patients
-- The per-patient write lock: every write that touches a patient's reports
-- (and so its reminder) holds it until COMMIT, taken in id order so that two
-- writes never wait for each other in a circle. NO KEY UPDATE leaves the
-- foreign-key checks of other transactions alone.
SELECT id
  FROM patients
 WHERE id = ANY(%(ids)s::bigint[])
 ORDER BY id
   FOR NO KEY UPDATE;

-- name: insert_patient
INSERT INTO patients (first_name, last_name, admission_date, dismissal_date)
VALUES (%(first_name)s, %(last_name)s, %(admission_date)s, %(dismissal_date)s)
RETURNING id, first_name, last_name, admission_date, dismissal_date, created_at, updated_at;

-- name: update_patient
UPDATE patients
   SET first_name = %(first_name)s,
       last_name = %(last_name)s,
       admission_date = %(admission_date)s,
       dismissal_date = %(dismissal_date)s,
       updated_at = now()
 WHERE id = %(id)s
RETURNING id, first_name, last_name, admission_date, dismissal_date, created_at, updated_at;

-- name: delete_patient_reports
-- A patient's reports go with the patient, each leaving a "-" history row.
WITH gone AS (
    DELETE FROM reports WHERE patient = %(id)s RETURNING *
)
SELECT h.*
  FROM gone, LATERAL record_report_history(gone, '-', %(actor)s, 'Patient deleted') h
 ORDER BY h.history_id;

-- name: delete_patient
DELETE FROM patients WHERE id = %(id)s RETURNING id;
