-- The audit trail of reports (django-simple-history's layout). Newest first.
--
-- A history row is shown with history_change_reason_log after its columns:
-- the entries of report_history_reasons (migration 0006), oldest first, as
-- [{"changed_by", "changed_at", "previous"}] ([] when the reason never
-- changed), read in the same statement (one snapshot) as the row.

-- name: list_history
-- plan: each call (optional filters; see sqlfiles)
-- The page first, then the log entries of just its rows: one index scan of
-- report_history_reasons_history_idx for the page's ids, whatever the page's
-- size or offset. Every filter is optional (NULL), as in list_reports; the
-- time window is on history_date.
WITH page AS (
    SELECT *
      FROM report_history
     WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
       AND (%(report)s::bigint IS NULL OR id = %(report)s::bigint)
       AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
       AND (%(since)s::timestamptz IS NULL OR history_date >= %(since)s::timestamptz)
       AND (%(until)s::timestamptz IS NULL OR history_date <= %(until)s::timestamptz)
       AND (%(after_key)s::timestamptz IS NULL
            OR (history_date, history_id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
     ORDER BY history_date DESC, history_id DESC
     LIMIT %(limit)s OFFSET %(offset)s
), logs AS (
    SELECT l.history_id,
           json_agg(json_build_object('changed_by', l.changed_by, 'changed_at', l.changed_at,
                                      'previous', l.previous) ORDER BY l.id) AS log
      FROM report_history_reasons l
     WHERE l.history_id = ANY (ARRAY(SELECT history_id FROM page))
     GROUP BY l.history_id
)
SELECT page.*, coalesce(logs.log, '[]') AS history_change_reason_log
  FROM page
  LEFT JOIN logs ON logs.history_id = page.history_id
 ORDER BY page.history_date DESC, page.history_id DESC;

-- name: list_history_back
-- plan: each call (optional filters; see sqlfiles)
WITH page AS (
    SELECT *
      FROM report_history
     WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
       AND (%(report)s::bigint IS NULL OR id = %(report)s::bigint)
       AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
       AND (%(since)s::timestamptz IS NULL OR history_date >= %(since)s::timestamptz)
       AND (%(until)s::timestamptz IS NULL OR history_date <= %(until)s::timestamptz)
       AND (history_date, history_id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
     ORDER BY history_date ASC, history_id ASC
     LIMIT %(limit)s
), logs AS (
    SELECT l.history_id,
           json_agg(json_build_object('changed_by', l.changed_by, 'changed_at', l.changed_at,
                                      'previous', l.previous) ORDER BY l.id) AS log
      FROM report_history_reasons l
     WHERE l.history_id = ANY (ARRAY(SELECT history_id FROM page))
     GROUP BY l.history_id
)
SELECT page.*, coalesce(logs.log, '[]') AS history_change_reason_log
  FROM page
  LEFT JOIN logs ON logs.history_id = page.history_id
 ORDER BY page.history_date ASC, page.history_id ASC;

-- name: count_history
-- plan: each call (optional filters; see sqlfiles)
-- Bounded, as count_patients. A deleted patient's history stays with their ward.
SELECT count(*) AS count
  FROM (SELECT 1
          FROM report_history
         WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
          AND (%(report)s::bigint IS NULL OR id = %(report)s::bigint)
          AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
          AND (%(since)s::timestamptz IS NULL OR history_date >= %(since)s::timestamptz)
          AND (%(until)s::timestamptz IS NULL OR history_date <= %(until)s::timestamptz)
         LIMIT %(bound)s) AS bounded;

-- name: get_history
SELECT h.*,
       (SELECT coalesce(json_agg(json_build_object('changed_by', l.changed_by, 'changed_at', l.changed_at,
                                                   'previous', l.previous) ORDER BY l.id), '[]')
          FROM report_history_reasons l
         WHERE l.history_id = h.history_id) AS history_change_reason_log
  FROM report_history h
 WHERE h.history_id = %(history_id)s
   AND (%(wards)s::bigint[] IS NULL OR h.ward = ANY(%(wards)s::bigint[]));

-- name: lock_history_reason
-- What deciding on a change of the reason needs, locked until the
-- transaction ends, so the decision (allowed? a change at all?) holds.
SELECT history_user, history_change_reason
  FROM report_history
 WHERE history_id = %(history_id)s
   FOR UPDATE;

-- name: set_history_reason
-- The only edit history allows (a trigger refuses any other). The trigger
-- report_history_reason_logged (migration 0006) logs the value replaced, by
-- the user in the transaction-local setting dengue_ward.actor: set here, in
-- the WHERE clause, so it is set before the row changes (a volatile
-- condition is never left out) and only for the row this statement changes.
UPDATE report_history
   SET history_change_reason = %(history_change_reason)s
 WHERE history_id = %(history_id)s
   AND set_config('dengue_ward.actor', %(actor)s::bigint::text, true) IS NOT NULL;

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
