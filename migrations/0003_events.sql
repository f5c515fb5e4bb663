-- depends: 0002_patients_reports_history
-- Every change event, written in the change's own transaction. Its id is the
-- order in which clients see and replay changes (/ws/?since=<id>).

CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    stream     text NOT NULL,
    action     text NOT NULL,
    object_id  bigint NOT NULL,
    -- The object as sent to clients. "json" (not jsonb) keeps the key order.
    data       json NOT NULL
);
CREATE INDEX events_created_at_idx ON events (created_at);

-- Events up to this id have been pruned; a client resuming from an older id
-- must reload instead (410).
CREATE TABLE event_horizon (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pruned_through bigint NOT NULL DEFAULT 0
);
INSERT INTO event_horizon DEFAULT VALUES;
