-- Users and tokens.

-- name: user_by_username
SELECT id, username, email, first_name, last_name, is_active, is_staff, is_superuser, password
  FROM users
 WHERE username = %(username)s;

-- name: user_by_email
-- dj-rest-auth lets a user log in with the e-mail address instead.
SELECT id, username, email, first_name, last_name, is_active, is_staff, is_superuser, password
  FROM users
 WHERE email <> '' AND lower(email) = lower(%(email)s)
 ORDER BY id
 LIMIT 1;

-- name: insert_user
INSERT INTO users (username, password, email, is_staff, is_superuser)
VALUES (%(username)s, %(password)s, %(email)s, %(is_staff)s, %(is_superuser)s)
RETURNING id, username, email, first_name, last_name, is_active, is_staff, is_superuser;

-- name: set_password
UPDATE users SET password = %(password)s WHERE id = %(id)s;

-- name: user_password
SELECT password FROM users WHERE id = %(id)s;

-- name: set_user_active
UPDATE users SET is_active = %(is_active)s
 WHERE username = %(username)s
RETURNING id, is_active, is_staff, is_superuser;

-- name: update_user_details
UPDATE users
   SET username = %(username)s, first_name = %(first_name)s, last_name = %(last_name)s
 WHERE id = %(id)s
RETURNING id, username, email, first_name, last_name, is_active, is_staff, is_superuser,
          ARRAY(SELECT uw.ward FROM user_wards uw WHERE uw.user_id = users.id) AS wards;

-- name: session_user
-- The user of a session key (its SHA-256), if the session has been used
-- within the idle limit and is younger than the absolute limit. Marks the
-- session used, at most once a minute (a write on every request would cost
-- more than the lookup).
WITH s AS (
    SELECT id, user_id, created
      FROM auth_sessions
     WHERE key_hash = %(key_hash)s
       AND last_used > now() - make_interval(secs => %(idle_seconds)s)
       AND created > now() - make_interval(secs => %(max_age_seconds)s)
), touched AS (
    UPDATE auth_sessions
       SET last_used = now()
     WHERE id = (SELECT id FROM s) AND last_used < now() - interval '60 seconds'
)
SELECT s.id AS session_id, u.id, u.username, u.email, u.first_name, u.last_name,
       u.is_active, u.is_staff, u.is_superuser,
       ARRAY(SELECT uw.ward FROM user_wards uw WHERE uw.user_id = u.id) AS wards,
       %(idle_seconds)s::float8 AS idle_left,
       extract(epoch FROM s.created + make_interval(secs => %(max_age_seconds)s) - now())::float8 AS age_left
  FROM s
  JOIN users u ON u.id = s.user_id;

-- name: create_session
WITH seen AS (
    UPDATE users SET last_login = now() WHERE id = %(user_id)s
)
INSERT INTO auth_sessions (key_hash, user_id, user_agent, client)
VALUES (%(key_hash)s, %(user_id)s, %(user_agent)s, %(client)s)
RETURNING id;

-- name: list_sessions
SELECT id, created, last_used, user_agent, client
  FROM auth_sessions
 WHERE user_id = %(user_id)s
   AND last_used > now() - make_interval(secs => %(idle_seconds)s)
   AND created > now() - make_interval(secs => %(max_age_seconds)s)
 ORDER BY created DESC, id DESC;

-- name: end_session
DELETE FROM auth_sessions WHERE id = %(id)s AND user_id = %(user_id)s RETURNING id;

-- name: end_other_sessions
-- Every session of the user but one (NULL: all of them).
DELETE FROM auth_sessions
 WHERE user_id = %(user_id)s AND id IS DISTINCT FROM %(keep)s
RETURNING id;

-- name: session_states
-- What a server needs to decide whether open sockets' sessions still hold:
-- the seconds each has left (missing rows have ended).
SELECT id,
       extract(epoch FROM least(
           last_used + make_interval(secs => %(idle_seconds)s),
           created + make_interval(secs => %(max_age_seconds)s)) - now())::float8 AS seconds_left
  FROM auth_sessions
 WHERE id = ANY(%(ids)s::bigint[]);

-- name: touch_session
-- A socket's frames count as use of its session, like requests do.
UPDATE auth_sessions SET last_used = now()
 WHERE id = %(id)s AND last_used < now() - interval '60 seconds';

-- name: prune_sessions
-- Sessions past either limit (the worker runs this).
DELETE FROM auth_sessions
 WHERE last_used < now() - make_interval(secs => %(idle_seconds)s)
    OR created < now() - make_interval(secs => %(max_age_seconds)s)
RETURNING id, user_id;

-- name: list_users
-- plan: each call (optional filters; see sqlfiles)
-- Staff's list: newest first (see service/lists.py).
SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.is_active, u.is_staff, u.is_superuser, ARRAY(SELECT uw.ward FROM user_wards uw WHERE uw.user_id = u.id ORDER BY uw.ward) AS wards, u.last_login, u.date_joined
  FROM users u
 WHERE (%(after_key)s::timestamptz IS NULL
        OR (u.date_joined, u.id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
 ORDER BY u.date_joined DESC, u.id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_users_back
-- plan: each call (optional filters; see sqlfiles)
SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.is_active, u.is_staff, u.is_superuser, ARRAY(SELECT uw.ward FROM user_wards uw WHERE uw.user_id = u.id ORDER BY uw.ward) AS wards, u.last_login, u.date_joined
  FROM users u
 WHERE (u.date_joined, u.id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
 ORDER BY u.date_joined ASC, u.id ASC
 LIMIT %(limit)s;

-- name: count_users
-- plan: each call (optional filters; see sqlfiles)
SELECT count(*) AS count FROM (SELECT 1 FROM users LIMIT %(bound)s) AS bounded;

-- name: get_user
SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.is_active, u.is_staff, u.is_superuser, ARRAY(SELECT uw.ward FROM user_wards uw WHERE uw.user_id = u.id ORDER BY uw.ward) AS wards, u.last_login, u.date_joined FROM users u WHERE u.id = %(id)s;

-- name: lock_user
-- Locks the user's row for a change; the other active superusers are
-- counted under the lock of every superuser row (see active_superusers).
SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.is_active, u.is_staff, u.is_superuser, ARRAY(SELECT uw.ward FROM user_wards uw WHERE uw.user_id = u.id ORDER BY uw.ward) AS wards, u.last_login, u.date_joined FROM users u WHERE u.id = %(id)s FOR UPDATE;

-- name: active_superusers
-- Locked, so two staff cannot each remove "another" last superuser at once.
SELECT id FROM users WHERE is_superuser AND is_active ORDER BY id FOR UPDATE;

-- name: insert_managed_user
INSERT INTO users (username, password, email, first_name, last_name, is_staff, is_superuser)
VALUES (%(username)s, %(password)s, %(email)s, %(first_name)s, %(last_name)s, %(is_staff)s, %(is_superuser)s)
RETURNING id;

-- name: update_managed_user
UPDATE users
   SET first_name = %(first_name)s, last_name = %(last_name)s, email = %(email)s,
       is_active = %(is_active)s, is_staff = %(is_staff)s, is_superuser = %(is_superuser)s
 WHERE id = %(id)s
RETURNING id;

-- name: set_user_wards
-- A user's wards become exactly these.
WITH gone AS (
    DELETE FROM user_wards WHERE user_id = %(user_id)s AND NOT (ward = ANY(%(wards)s::bigint[]))
)
INSERT INTO user_wards (user_id, ward)
SELECT %(user_id)s, w FROM unnest(%(wards)s::bigint[]) AS w
    ON CONFLICT DO NOTHING;
