-- depends: 0007_auth_sessions
-- Idempotent writes: the first request with a key runs and its reply is
-- stored here in the same transaction as the change, so a retry after an
-- ambiguous commit (the connection dropped after COMMIT) gets that reply
-- instead of writing twice. Keys are per user and kept for 24 hours.

CREATE TABLE idempotency_keys (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          varchar(255) NOT NULL,
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    status       smallint,  -- null only inside the transaction that runs the request
    body         text,
    created      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created);
