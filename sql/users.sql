-- Users and tokens.

-- name: user_by_token
SELECT u.id, u.username, u.email, u.first_name, u.last_name,
       u.is_active, u.is_staff, u.is_superuser
  FROM auth_tokens t
  JOIN users u ON u.id = t.user_id
 WHERE t.key = %(key)s;

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

-- name: update_user_details
UPDATE users
   SET username = %(username)s, first_name = %(first_name)s, last_name = %(last_name)s
 WHERE id = %(id)s
RETURNING id, username, email, first_name, last_name, is_active, is_staff, is_superuser;

-- name: login_token
-- One token per user, shared by every device until logout (dj-rest-auth).
WITH seen AS (
    UPDATE users SET last_login = now() WHERE id = %(user_id)s
), created AS (
    INSERT INTO auth_tokens (key, user_id) VALUES (%(key)s, %(user_id)s)
    ON CONFLICT (user_id) DO NOTHING
    RETURNING key
)
SELECT key FROM created
UNION ALL
SELECT key FROM auth_tokens WHERE user_id = %(user_id)s
LIMIT 1;

-- name: delete_token
DELETE FROM auth_tokens WHERE key = %(key)s;
