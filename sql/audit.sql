-- The audit log of access changes: users, wards, ward membership
-- (append-only: migration 0009's trigger refuses UPDATE and DELETE).

-- name: insert_audit
INSERT INTO audit_log (actor, action, target_type, target_id, before, after)
VALUES (%(actor)s, %(action)s, %(target_type)s, %(target_id)s, %(before)s::jsonb, %(after)s::jsonb)
RETURNING id, at, actor, action, target_type, target_id, before, after;

-- name: list_audit
-- plan: each call (optional filters; see sqlfiles)
-- Newest first; ?user= names an entry's actor or the user it is about.
SELECT id, at, actor, action, target_type, target_id, before, after
  FROM audit_log
 WHERE (%(user)s::bigint IS NULL
        OR actor = %(user)s::bigint
        OR (target_type = 'user' AND target_id = %(user)s::bigint))
   AND (%(after_key)s::timestamptz IS NULL OR (at, id) < (%(after_key)s::timestamptz, %(after_id)s::bigint))
 ORDER BY at DESC, id DESC
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_audit_back
-- plan: each call (optional filters; see sqlfiles)
SELECT id, at, actor, action, target_type, target_id, before, after
  FROM audit_log
 WHERE (%(user)s::bigint IS NULL
        OR actor = %(user)s::bigint
        OR (target_type = 'user' AND target_id = %(user)s::bigint))
   AND (at, id) > (%(before_key)s::timestamptz, %(before_id)s::bigint)
 ORDER BY at ASC, id ASC
 LIMIT %(limit)s;

-- name: count_audit
-- plan: each call (optional filters; see sqlfiles)
SELECT count(*) AS count
  FROM (SELECT 1 FROM audit_log
         WHERE (%(user)s::bigint IS NULL
                OR actor = %(user)s::bigint
                OR (target_type = 'user' AND target_id = %(user)s::bigint))
         LIMIT %(bound)s) AS bounded;

-- name: get_audit
SELECT id, at, actor, action, target_type, target_id, before, after FROM audit_log WHERE id = %(id)s;
