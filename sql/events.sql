-- Change events (see service/events.py and service/db.py).

-- name: commit_with_events#
-- The end of every write transaction that changed something visible. The
-- transaction-level advisory lock serialises event writers from here to
-- COMMIT, so ids become visible in id order (no reader ever sees id N
-- before id N-1 has committed or rolled back). All in one round trip; the
-- last statement returns the id of the last event inserted here (ids of one
-- transaction are consecutive because of the lock).
SELECT pg_advisory_xact_lock(1684368999);
INSERT INTO events (stream, action, object_id, data, ward, prior_ward)
SELECT e.stream, e.action, e.object_id, e.data, e.ward, e.prior_ward
  FROM unnest(%(streams)s::text[], %(actions)s::text[], %(pks)s::bigint[], %(datas)s::json[],
              %(wards)s::bigint[], %(prior_wards)s::bigint[])
       WITH ORDINALITY AS e (stream, action, object_id, data, ward, prior_ward, n)
 ORDER BY e.n;
COMMIT;
SELECT currval(pg_get_serial_sequence('events', 'id'));

-- name: events_after
SELECT id, stream, action, object_id, data::text AS data, ward, prior_ward
  FROM events
 WHERE id > %(after)s AND id <= %(upto)s
 ORDER BY id
 LIMIT %(limit)s;

-- name: last_event_id
-- The newest event id ever committed (even if pruned since) and the horizon.
SELECT greatest((SELECT coalesce(max(id), 0) FROM events), pruned_through) AS last_id,
       pruned_through
  FROM event_horizon;

-- name: oldest_event_age
-- Seconds since the oldest event kept was written (NULL: none kept).
SELECT extract(epoch FROM now() - min(created_at))::float8 AS seconds FROM events;

-- name: try_prune_lock
-- One pruner at a time (workers and servers): the lock ends with the transaction.
SELECT pg_try_advisory_xact_lock(1684369001) AS locked;

-- name: prune_events
-- Delete events older than the retention window and remember the newest id
-- deleted, so that a resume from before it is answered with 410.
WITH gone AS (
    DELETE FROM events WHERE created_at < now() - make_interval(secs => %(retention_seconds)s)
    RETURNING id
)
UPDATE event_horizon
   SET pruned_through = greatest(pruned_through, (SELECT max(id) FROM gone))
 WHERE EXISTS (SELECT 1 FROM gone)
RETURNING pruned_through;
