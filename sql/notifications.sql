-- Notifications: what a report raised, and observation-due reminders.

-- name: list_notifications
-- plan: each call (optional filters; see sqlfiles)
-- Newest first; every filter optional (NULL), as in list_reports. The
-- acknowledged filter is spelled so that, its value known, it is exactly
-- the predicate of notifications_ward_open_idx (the board's open ones of a
-- ward); admitted looks up each row's patient, one index probe per row read.
SELECT id, type, severity, patient, report, message, created_at, acknowledged_at, acknowledged_by, acknowledged_reason
  FROM notifications n
 WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
   AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
   AND (%(acknowledged)s::boolean IS NULL
        OR (%(acknowledged)s::boolean AND acknowledged_at IS NOT NULL)
        OR (NOT %(acknowledged)s::boolean AND acknowledged_at IS NULL))
   AND (%(admitted)s::boolean IS NULL
        OR (SELECT p.dismissal_date IS NULL FROM patients p WHERE p.id = n.patient) = %(admitted)s::boolean)
   AND (%(after_key)s::timestamptz IS NULL
        OR (created_at, id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_notifications_back
-- plan: each call (optional filters; see sqlfiles)
SELECT id, type, severity, patient, report, message, created_at, acknowledged_at, acknowledged_by, acknowledged_reason
  FROM notifications n
 WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
   AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
   AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
   AND (%(acknowledged)s::boolean IS NULL
        OR (%(acknowledged)s::boolean AND acknowledged_at IS NOT NULL)
        OR (NOT %(acknowledged)s::boolean AND acknowledged_at IS NULL))
   AND (%(admitted)s::boolean IS NULL
        OR (SELECT p.dismissal_date IS NULL FROM patients p WHERE p.id = n.patient) = %(admitted)s::boolean)
   AND (created_at, id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
 ORDER BY created_at ASC, id ASC
 LIMIT %(limit)s;

-- name: count_notifications
-- plan: each call (optional filters; see sqlfiles)
-- Bounded, as count_patients.
SELECT count(*) AS count
  FROM (SELECT 1 FROM notifications n
        WHERE (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
          AND (%(patient)s::bigint IS NULL OR patient = %(patient)s::bigint)
          AND (%(ward)s::bigint IS NULL OR ward = %(ward)s::bigint)
          AND (%(acknowledged)s::boolean IS NULL
               OR (%(acknowledged)s::boolean AND acknowledged_at IS NOT NULL)
               OR (NOT %(acknowledged)s::boolean AND acknowledged_at IS NULL))
          AND (%(admitted)s::boolean IS NULL
               OR (SELECT p.dismissal_date IS NULL FROM patients p WHERE p.id = n.patient) = %(admitted)s::boolean)
         LIMIT %(bound)s) AS bounded;

-- name: get_notification
SELECT id, type, severity, patient, report, message, created_at, acknowledged_at, acknowledged_by, acknowledged_reason
  FROM notifications
 WHERE id = %(id)s
   AND (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]));

-- name: acknowledge_notification
-- Idempotent: a second acknowledgement keeps the first one's who and when.
UPDATE notifications
   SET acknowledged_at = now(), acknowledged_by = %(actor)s
 WHERE id = %(id)s AND acknowledged_at IS NULL
   AND (%(wards)s::bigint[] IS NULL OR ward = ANY(%(wards)s::bigint[]))
RETURNING id, type, severity, patient, report, message, created_at, acknowledged_at, acknowledged_by, acknowledged_reason;

-- name: insert_notifications
-- Several at once; an open notification of the same type for the same
-- report is not raised twice (notifications_open_per_report_idx).
INSERT INTO notifications (type, severity, patient, report, message)
SELECT n.type, n.severity, n.patient, n.report, n.message
  FROM unnest(%(types)s::text[], %(severities)s::text[], %(patients)s::bigint[],
              %(reports)s::bigint[], %(messages)s::text[])
       WITH ORDINALITY AS n (type, severity, patient, report, message, ord)
 ORDER BY n.ord
    ON CONFLICT (report, type) WHERE acknowledged_at IS NULL AND report IS NOT NULL DO NOTHING
RETURNING id, type, severity, patient, report, message, created_at, acknowledged_at, acknowledged_by, acknowledged_reason;

-- name: rule_context
-- What the rules need of the patient's reports before this one.
SELECT
    (SELECT e.hematocrit FROM reports e
      WHERE e.patient = %(patient)s AND e.id <> %(id)s AND e.hematocrit IS NOT NULL
        AND (e.time, e.id) < (%(time)s, %(id)s)
      ORDER BY e.time, e.id LIMIT 1) AS first_hematocrit,
    (SELECT e.status FROM reports e
      WHERE e.patient = %(patient)s AND e.id <> %(id)s AND (e.time, e.id) < (%(time)s, %(id)s)
      ORDER BY e.time DESC, e.id DESC LIMIT 1) AS previous_status,
    (SELECT e.weight FROM reports e
      WHERE e.patient = %(patient)s AND e.id <> %(id)s AND e.weight IS NOT NULL
        AND (e.time, e.id) < (%(time)s, %(id)s)
      ORDER BY e.time DESC, e.id DESC LIMIT 1) AS previous_weight;
