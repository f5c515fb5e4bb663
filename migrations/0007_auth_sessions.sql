-- depends: 0005_rule_lookup_indexes
-- Per-device sessions instead of one shared token per user. Each login
-- makes a session; only the SHA-256 of its key is stored, so the table
-- holds nothing a reader could log in with. Existing tokens become one
-- session each (their hash), so the keys users hold keep working.

CREATE TABLE auth_sessions (
    id         bigserial PRIMARY KEY,
    key_hash   bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    timestamptz NOT NULL DEFAULT now(),
    -- Updated at most once a minute (sql/users.sql: session_user), so the
    -- idle limit is exact to about a minute.
    last_used  timestamptz NOT NULL DEFAULT now(),
    user_agent varchar(256) NOT NULL DEFAULT '',
    client     varchar(64) NOT NULL DEFAULT ''
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id, created DESC);
-- The worker prunes by these.
CREATE INDEX auth_sessions_last_used_idx ON auth_sessions (last_used);
CREATE INDEX auth_sessions_created_idx ON auth_sessions (created);

INSERT INTO auth_sessions (key_hash, user_id, created, last_used)
SELECT sha256(convert_to(key, 'UTF8')), user_id, created, now()
  FROM auth_tokens;

DROP TABLE auth_tokens;
