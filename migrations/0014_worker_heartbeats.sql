-- depends: 0013_rows_carry_their_ward
-- The reminder workers' heartbeats: each running worker keeps its row's
-- beat_at fresh (at least every WORKER_HEARTBEAT_SECONDS, also while idle)
-- and deletes it when it stops; `python -m service worker --check` reads
-- them. Rows of workers that died are pruned after a day.
CREATE TABLE worker_heartbeats (
    worker text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    beat_at timestamptz NOT NULL DEFAULT now(),
    -- reminders this worker has fired since it started
    fired bigint NOT NULL DEFAULT 0
);
