-- Users and their API tokens (dj-rest-auth token mode: one token per user).

CREATE TABLE users (
    id           bigserial PRIMARY KEY,
    username     varchar(150) NOT NULL UNIQUE
                 CHECK (username ~ '^[[:alnum:]_@.+-]+$'),
    -- argon2id hash in PHC string format; never returned by the API.
    password     text NOT NULL,
    email        varchar(254) NOT NULL DEFAULT '',
    first_name   varchar(150) NOT NULL DEFAULT '',
    last_name    varchar(150) NOT NULL DEFAULT '',
    is_active    boolean NOT NULL DEFAULT true,
    is_staff     boolean NOT NULL DEFAULT false,
    is_superuser boolean NOT NULL DEFAULT false,
    date_joined  timestamptz NOT NULL DEFAULT now(),
    last_login   timestamptz
);

CREATE TABLE auth_tokens (
    key     varchar(40) PRIMARY KEY CHECK (key ~ '^[0-9a-f]{40}$'),
    user_id bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created timestamptz NOT NULL DEFAULT now()
);
