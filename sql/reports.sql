-- Reports (observation rounds). Lists: newest observation first.
-- Every write also writes the report's history row through
-- record_report_history() (migration 0002) in the same statement, and returns
-- that history row: its report columns are the report after the change
-- (before it, for a delete).

-- name: list_reports
-- plan: each call (optional filters; see sqlfiles)
-- Newest observation first; every filter optional (NULL): the caller's
-- wards (NULL for staff), a ward, a patient, a time window, and the keyset
-- of the row a page continues after. A row's ward is its patient's
-- (migration 0013), so a ward's page is a range of reports_ward_time_idx
-- and ?patient= one of reports_patient_time_idx, planned with the values
-- of each call.
SELECT *
  FROM reports
 WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
   AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
   AND (%(since)s::timestamptz IS NULL OR time >= %(since)s::timestamptz)
   AND (%(until)s::timestamptz IS NULL OR time <= %(until)s::timestamptz)
   AND (%(after_key)s::timestamptz IS NULL OR (time, id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
 ORDER BY time DESC, id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_reports_back
-- plan: each call (optional filters; see sqlfiles)
SELECT *
  FROM reports
 WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
   AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
   AND (%(since)s::timestamptz IS NULL OR time >= %(since)s::timestamptz)
   AND (%(until)s::timestamptz IS NULL OR time <= %(until)s::timestamptz)
   AND (time, id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
 ORDER BY time ASC, id ASC
 LIMIT %(limit)s;

-- name: count_reports
-- plan: each call (optional filters; see sqlfiles)
-- Bounded, as count_patients.
SELECT count(*) AS count
  FROM (SELECT 1 FROM reports
        WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
          AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
          AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
          AND (%(since)s::timestamptz IS NULL OR time >= %(since)s::timestamptz)
          AND (%(until)s::timestamptz IS NULL OR time <= %(until)s::timestamptz)
         LIMIT %(bound)s) AS bounded;

-- name: get_report
SELECT *
  FROM reports
 WHERE id = %(id)s
   AND (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]));

-- name: lock_report
SELECT * FROM reports WHERE id = %(id)s FOR UPDATE;

-- name: insert_report
WITH r AS (
    INSERT INTO reports (
        patient, time, day_of_fever, fever, pulse, respirations, bp_systolic, bp_diastolic,
        diet, oral_fluids, parenteral_fluids, other_fluids, intake_8h,
        urine_output, uf, emesis, drainage, output_8h,
        pain_score, abdominal_circumference, stools, urine_count, weight, height,
        o2_saturation, hematocrit, platelet_count, wbc_count,
        status, monitoring_interval, warning_signs, additional_info, medical_advice, created_by
    ) VALUES (
        %(patient)s, %(time)s, %(day_of_fever)s, %(fever)s, %(pulse)s, %(respirations)s,
        %(bp_systolic)s, %(bp_diastolic)s,
        %(diet)s, %(oral_fluids)s, %(parenteral_fluids)s, %(other_fluids)s, %(intake_8h)s,
        %(urine_output)s, %(uf)s, %(emesis)s, %(drainage)s, %(output_8h)s,
        %(pain_score)s, %(abdominal_circumference)s, %(stools)s, %(urine_count)s,
        %(weight)s, %(height)s,
        %(o2_saturation)s, %(hematocrit)s, %(platelet_count)s, %(wbc_count)s,
        %(status)s, %(monitoring_interval)s, %(warning_signs)s, %(additional_info)s,
        %(medical_advice)s, %(actor)s
    )
    RETURNING *
)
SELECT h.*
  FROM r, LATERAL record_report_history(r, '+', %(actor)s, NULL) h;

-- name: update_report
WITH r AS (
    UPDATE reports
       SET patient = %(patient)s, time = %(time)s, day_of_fever = %(day_of_fever)s,
           fever = %(fever)s, pulse = %(pulse)s, respirations = %(respirations)s,
           bp_systolic = %(bp_systolic)s, bp_diastolic = %(bp_diastolic)s,
           diet = %(diet)s, oral_fluids = %(oral_fluids)s,
           parenteral_fluids = %(parenteral_fluids)s, other_fluids = %(other_fluids)s,
           intake_8h = %(intake_8h)s, urine_output = %(urine_output)s, uf = %(uf)s,
           emesis = %(emesis)s, drainage = %(drainage)s, output_8h = %(output_8h)s,
           pain_score = %(pain_score)s, abdominal_circumference = %(abdominal_circumference)s,
           stools = %(stools)s, urine_count = %(urine_count)s, weight = %(weight)s,
           height = %(height)s, o2_saturation = %(o2_saturation)s, hematocrit = %(hematocrit)s,
           platelet_count = %(platelet_count)s, wbc_count = %(wbc_count)s,
           status = %(status)s, monitoring_interval = %(monitoring_interval)s,
           warning_signs = %(warning_signs)s, additional_info = %(additional_info)s,
           medical_advice = %(medical_advice)s,
           updated_at = now()
     WHERE id = %(id)s
    RETURNING *
)
SELECT h.*
  FROM r, LATERAL record_report_history(r, '~', %(actor)s, NULL) h;

-- name: delete_report
WITH r AS (
    DELETE FROM reports WHERE id = %(id)s RETURNING *
)
SELECT h.*
  FROM r, LATERAL record_report_history(r, '-', %(actor)s, NULL) h;
