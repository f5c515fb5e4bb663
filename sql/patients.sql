-- Patients. Lists: newest admission first.

-- name: list_patients
-- plan: each call (optional filters; see sqlfiles)
-- Newest admission first. Every filter is optional (NULL: not applied):
-- the caller's wards (NULL for staff), admitted or not, a name fragment
-- (an ILIKE pattern), and the keyset of the row a page continues after.
-- Each call is planned with its own values (not prepared: "plan: each
-- call"), so NULL filters drop out and each shape uses its index (patients_ward_idx, patients_admitted_idx, the trigram index).
SELECT id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at
  FROM patients
 WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
   AND (%(admitted)s::boolean IS NULL OR (dismissal_date IS NULL) = %(admitted)s::boolean)
   AND (%(search)s::text IS NULL OR (first_name || ' ' || last_name) ILIKE %(search)s::text)
   AND (%(after_key)s::timestamptz IS NULL
        OR (admission_date, id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
 ORDER BY admission_date DESC, id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_patients_back
-- plan: each call (optional filters; see sqlfiles)
-- The page before a row (a cursor's "previous"): oldest first from there.
SELECT id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at
  FROM patients
 WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
   AND (%(admitted)s::boolean IS NULL OR (dismissal_date IS NULL) = %(admitted)s::boolean)
   AND (%(search)s::text IS NULL OR (first_name || ' ' || last_name) ILIKE %(search)s::text)
   AND (admission_date, id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
 ORDER BY admission_date ASC, id ASC
 LIMIT %(limit)s;

-- name: count_patients
-- plan: each call (optional filters; see sqlfiles)
-- Bounded: an exact count of millions of rows would cost a scan of them.
SELECT count(*) AS count
  FROM (SELECT 1
          FROM patients
         WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
           AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
           AND (%(admitted)s::boolean IS NULL OR (dismissal_date IS NULL) = %(admitted)s::boolean)
           AND (%(search)s::text IS NULL OR (first_name || ' ' || last_name) ILIKE %(search)s::text)
         LIMIT %(bound)s) AS bounded;

-- name: get_patient
SELECT id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at
  FROM patients
 WHERE id = %(id)s
   AND (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]));

-- name: lock_patient
SELECT id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at
  FROM patients
 WHERE id = %(id)s
   FOR UPDATE;

-- name: lock_patients
-- The per-patient write lock: every write that touches a patient's reports
-- (and so its reminder) holds it until COMMIT, taken in id order so that two
-- writes never wait for each other in a circle. NO KEY UPDATE leaves the
-- foreign-key checks of other transactions alone.
SELECT id, ward
  FROM patients
 WHERE id = ANY(%(ids)s::bigint[])
 ORDER BY id
   FOR NO KEY UPDATE;

-- name: insert_patient
INSERT INTO patients (first_name, last_name, admission_date, dismissal_date, ward)
VALUES (%(first_name)s, %(last_name)s, %(admission_date)s, %(dismissal_date)s, %(ward)s)
RETURNING id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at;

-- name: update_patient
UPDATE patients
   SET first_name = %(first_name)s,
       last_name = %(last_name)s,
       admission_date = %(admission_date)s,
       dismissal_date = %(dismissal_date)s,
       ward = %(ward)s,
       updated_at = now()
 WHERE id = %(id)s
RETURNING id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at;

-- name: delete_patient_reports
-- A patient's reports go with the patient, each leaving a "-" history row.
WITH gone AS (
    DELETE FROM reports WHERE patient = %(id)s RETURNING *
)
SELECT h.*
  FROM gone, LATERAL record_report_history(gone, '-', %(actor)s, 'Patient deleted') h
 ORDER BY h.history_id;

-- name: delete_patient
-- Their history outlives them, visible to the ward they were in.
WITH gone AS (
    DELETE FROM patients WHERE id = %(id)s RETURNING id, ward
)
INSERT INTO deleted_patients (id, ward)
SELECT id, ward FROM gone
    ON CONFLICT (id) DO UPDATE SET ward = EXCLUDED.ward, deleted_at = now()
RETURNING id;

-- name: only_ward
-- The ward a patient goes to when none is named: the only one, if exactly
-- one exists (so a front end that knows nothing of wards keeps working).
SELECT min(id) AS id FROM wards HAVING count(*) = 1;

-- name: close_notifications_of_dismissed
-- A dismissed patient's open notifications are closed by the system.
UPDATE notifications
   SET acknowledged_at = now(), acknowledged_by = NULL, acknowledged_reason = 'patient dismissed'
 WHERE patient = %(patient)s AND acknowledged_at IS NULL
RETURNING id, type, severity, patient, report, message, created_at, acknowledged_at, acknowledged_by,
          acknowledged_reason;

-- name: patient_ward
-- The ward of a patient, or the one a deleted patient was in: their history
-- stays visible to that ward, so changes to it are broadcast there too.
SELECT ward FROM patients WHERE id = %(id)s
UNION ALL
SELECT ward FROM deleted_patients WHERE id = %(id)s
LIMIT 1;

-- name: admitted_patients_in
-- plan: each call (optional filters; see sqlfiles)
-- Admitted patients of some wards (NULL: every ward), but not of others:
-- what a screen gains or loses when its user's wards or rights change.
SELECT id, first_name, last_name, admission_date, dismissal_date, ward, created_at, updated_at
  FROM patients
 WHERE dismissal_date IS NULL
   AND (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND NOT (ward = ANY(%(but)s::bigint[]))
 ORDER BY admission_date DESC, id DESC;
