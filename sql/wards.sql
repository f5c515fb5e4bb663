-- Wards, and who belongs to them (migration 0009).

-- name: list_wards
-- plan: each call (optional filters; see sqlfiles)
-- Newest first, as every list (see service/lists.py); a page continues after a row.
SELECT id, name, created_at, updated_at
  FROM wards
 WHERE (%(after_key)s::timestamptz IS NULL OR (created_at, id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_wards_back
-- plan: each call (optional filters; see sqlfiles)
SELECT id, name, created_at, updated_at
  FROM wards
 WHERE (created_at, id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
 ORDER BY created_at ASC, id ASC
 LIMIT %(limit)s;

-- name: count_wards
-- plan: each call (optional filters; see sqlfiles)
SELECT count(*) AS count FROM (SELECT 1 FROM wards LIMIT %(bound)s) AS bounded;

-- name: get_ward
SELECT id, name, created_at, updated_at FROM wards WHERE id = %(id)s;

-- name: lock_ward
SELECT id, name, created_at, updated_at FROM wards WHERE id = %(id)s FOR UPDATE;

-- name: existing_wards
SELECT id FROM wards WHERE id = ANY(%(ids)s::bigint[]);

-- name: ward_by_name
SELECT id, name, created_at, updated_at FROM wards WHERE name = %(name)s;

-- name: insert_ward
INSERT INTO wards (name) VALUES (%(name)s) RETURNING id, name, created_at, updated_at;

-- name: update_ward
UPDATE wards SET name = %(name)s, updated_at = now() WHERE id = %(id)s RETURNING id, name, created_at, updated_at;

-- name: ward_has_patients
SELECT EXISTS (SELECT 1 FROM patients WHERE ward = %(id)s) AS busy;

-- name: delete_ward
-- Its memberships go with it (ON DELETE CASCADE); the caller checked it has no patients.
WITH members AS (
    SELECT coalesce(array_agg(user_id ORDER BY user_id), '{}') AS users FROM user_wards WHERE ward = %(id)s
), gone AS (
    DELETE FROM wards WHERE id = %(id)s RETURNING id
)
SELECT gone.id, members.users FROM gone, members;
