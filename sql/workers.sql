-- The reminder workers' heartbeats (service/reminders/worker.py).

-- name: worker_heartbeat
-- A running worker's beat: its row, made when it first beats.
INSERT INTO worker_heartbeats AS h (worker, fired)
VALUES (%(worker)s, %(fired)s)
    ON CONFLICT (worker) DO UPDATE SET beat_at = now(), fired = EXCLUDED.fired;

-- name: end_worker_heartbeat
-- A worker that stops cleanly leaves no row behind.
DELETE FROM worker_heartbeats WHERE worker = %(worker)s;

-- name: prune_worker_heartbeats
-- Rows of workers that died without deleting theirs.
DELETE FROM worker_heartbeats WHERE beat_at < now() - make_interval(secs => %(retention_seconds)s);

-- name: latest_worker_heartbeat
-- The worker that beat last (of the workers whose name starts with
-- %(prefix)s: '' for any, 'host:' for those of one host), and how many
-- seconds ago by the database's clock.
SELECT worker, fired, extract(epoch FROM now() - beat_at)::float8 AS age_seconds
  FROM worker_heartbeats
 WHERE starts_with(worker, %(prefix)s)
 ORDER BY beat_at DESC
 LIMIT 1;
