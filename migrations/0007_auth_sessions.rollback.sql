-- The keys cannot be recovered from their hashes: rolling back ends every
-- session, and users log in again.
CREATE TABLE auth_tokens (
    key     varchar(40) PRIMARY KEY CHECK (key ~ '^[0-9a-f]{40}$'),
    user_id bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created timestamptz NOT NULL DEFAULT now()
);
DROP TABLE auth_sessions;
