-- The audit trail of reports (django-simple-history's layout). Newest first.

-- name: list_history
SELECT *
  FROM report_history
 WHERE (%(report)s::bigint IS NULL OR id = %(report)s::bigint)
   AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
 ORDER BY history_date DESC, history_id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: count_history
SELECT count(*) AS count
  FROM report_history
 WHERE (%(report)s::bigint IS NULL OR id = %(report)s::bigint)
   AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint);

-- name: get_history
SELECT * FROM report_history WHERE history_id = %(history_id)s;

-- name: set_history_reason
-- The only edit history allows (a trigger refuses any other).
UPDATE report_history
   SET history_change_reason = %(history_change_reason)s
 WHERE history_id = %(history_id)s
RETURNING *;

-- name: delete_history
DELETE FROM report_history WHERE history_id = %(history_id)s RETURNING history_id;

-- name: restore_report_update
-- Bring an existing report back to the values of one history row.
WITH v AS (
    SELECT * FROM report_history WHERE history_id = %(history_id)s
), r AS (
    UPDATE reports
       SET (patient, time, day_of_fever, fever, pulse, respirations, bp_systolic, bp_diastolic,
            diet, oral_fluids, parenteral_fluids, other_fluids, intake_8h,
            urine_output, uf, emesis, drainage, output_8h,
            pain_score, abdominal_circumference, stools, urine_count, weight, height,
            o2_saturation, hematocrit, platelet_count, wbc_count,
            status, monitoring_interval, warning_signs, additional_info, medical_advice,
            created_by, created_at, updated_at)
         = (v.patient, v.time, v.day_of_fever, v.fever, v.pulse, v.respirations,
            v.bp_systolic, v.bp_diastolic,
            v.diet, v.oral_fluids, v.parenteral_fluids, v.other_fluids, v.intake_8h,
            v.urine_output, v.uf, v.emesis, v.drainage, v.output_8h,
            v.pain_score, v.abdominal_circumference, v.stools, v.urine_count, v.weight, v.height,
            v.o2_saturation, v.hematocrit, v.platelet_count, v.wbc_count,
            v.status, v.monitoring_interval, v.warning_signs, v.additional_info, v.medical_advice,
            (SELECT u.id FROM users u WHERE u.id = v.created_by), v.created_at, now())
      FROM v
     WHERE reports.id = v.id
    RETURNING reports.*
)
SELECT h.*
  FROM r, LATERAL record_report_history(r, '~', %(actor)s, %(reason)s) h;

-- name: restore_report_insert
-- Re-create a deleted report, with its old id, from one history row.
WITH r AS (
    INSERT INTO reports (
        id, patient, time, day_of_fever, fever, pulse, respirations, bp_systolic, bp_diastolic,
        diet, oral_fluids, parenteral_fluids, other_fluids, intake_8h,
        urine_output, uf, emesis, drainage, output_8h,
        pain_score, abdominal_circumference, stools, urine_count, weight, height,
        o2_saturation, hematocrit, platelet_count, wbc_count,
        status, monitoring_interval, warning_signs, additional_info, medical_advice,
        created_by, created_at, updated_at)
    SELECT id, patient, time, day_of_fever, fever, pulse, respirations, bp_systolic, bp_diastolic,
           diet, oral_fluids, parenteral_fluids, other_fluids, intake_8h,
           urine_output, uf, emesis, drainage, output_8h,
           pain_score, abdominal_circumference, stools, urine_count, weight, height,
           o2_saturation, hematocrit, platelet_count, wbc_count,
           status, monitoring_interval, warning_signs, additional_info, medical_advice,
           (SELECT u.id FROM users u WHERE u.id = report_history.created_by), created_at, now()
      FROM report_history
     WHERE history_id = %(history_id)s
    RETURNING *
)
SELECT h.*
  FROM r, LATERAL record_report_history(r, '+', %(actor)s, %(reason)s) h;
