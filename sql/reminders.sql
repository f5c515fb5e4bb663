-- Observation-due reminders (the worker: service/reminders/worker.py).

-- name: schedule_reminder
-- (Re)schedule a patient's reminder at time + monitoring_interval of their
-- latest report; remove it when the patient is dismissed or has no report.
-- A reminder whose due time did not change stays as it is (fired or not);
-- a moved one is unlocked and armed again. Workers are woken by NOTIFY,
-- delivered at COMMIT.
WITH latest AS (
    SELECT r.id, r.time + make_interval(hours => r.monitoring_interval) AS due
      FROM reports r
      JOIN patients p ON p.id = r.patient
     WHERE r.patient = %(patient)s AND p.dismissal_date IS NULL
     ORDER BY r.time DESC, r.id DESC
     LIMIT 1
), removed AS (
    DELETE FROM reminders
     WHERE patient = %(patient)s AND NOT EXISTS (SELECT 1 FROM latest)
), scheduled AS (
    INSERT INTO reminders (patient, report, run_at)
    SELECT %(patient)s, latest.id, latest.due FROM latest
        ON CONFLICT (patient) DO UPDATE
       SET report = EXCLUDED.report, run_at = EXCLUDED.run_at, version = reminders.version + 1,
           locked_by = NULL, locked_until = NULL, attempts = 0, fired_at = NULL, updated_at = now()
     WHERE (reminders.report, reminders.run_at) IS DISTINCT FROM (EXCLUDED.report, EXCLUDED.run_at)
    RETURNING run_at
)
SELECT run_at, pg_notify(%(channel)s, run_at::text) FROM scheduled;

-- name: claim_due_reminders
-- Take up to %(batch)s due reminders for %(lease_seconds)s seconds. Rows
-- another worker is claiming right now are skipped, rows whose lease ran
-- out (their worker died) are taken over.
UPDATE reminders m
   SET locked_by = %(worker)s,
       locked_until = now() + make_interval(secs => %(lease_seconds)s),
       attempts = m.attempts + 1
  FROM (SELECT id FROM reminders
         WHERE fired_at IS NULL AND run_at <= now()
           AND (locked_until IS NULL OR locked_until < now())
         ORDER BY run_at
         LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED) due
 WHERE m.id = due.id
RETURNING m.id, m.version, m.patient;

-- name: fire_reminders
-- Mark claimed reminders fired, but only those this worker still holds at
-- the same version: a lease taken over by another worker, or a reminder
-- moved by a newer report meanwhile, is not fired here.
UPDATE reminders m
   SET fired_at = now(), locked_by = NULL, locked_until = NULL
  FROM unnest(%(ids)s::bigint[], %(versions)s::bigint[]) AS c (id, version),
       patients p
 WHERE m.id = c.id AND m.version = c.version AND m.locked_by = %(worker)s
   AND m.fired_at IS NULL AND p.id = m.patient
RETURNING m.patient, p.ward, m.report, m.run_at, m.fired_at, p.first_name, p.last_name,
          (SELECT r.monitoring_interval FROM reports r WHERE r.id = m.report) AS monitoring_interval;

-- name: next_reminder_wait
-- Seconds (by the database's clock, so worker clocks may be off) until the
-- next reminder is due or a lease runs out; NULL when there is none.
SELECT extract(epoch FROM min(t) - now())::float8 AS seconds
  FROM (SELECT min(run_at) AS t FROM reminders
         WHERE fired_at IS NULL AND (locked_until IS NULL OR locked_until < now())
        UNION ALL
        SELECT min(locked_until) FROM reminders
         WHERE fired_at IS NULL AND locked_until >= now()) x;
