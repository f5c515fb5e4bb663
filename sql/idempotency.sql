-- Idempotency keys (service/idempotency.py).

-- name: claim_idempotency_key
-- Claim a key for this request, in the request's transaction. A key in use
-- by a transaction still running makes this wait for it (the unique
-- index): a retry that races its first attempt then sees that attempt's
-- reply. A key older than the retention counts as unused.
INSERT INTO idempotency_keys (user_id, key, request_hash)
VALUES (%(user_id)s, %(key)s, %(request_hash)s)
    ON CONFLICT (user_id, key) DO UPDATE
   SET request_hash = EXCLUDED.request_hash, status = NULL, body = NULL, created = now()
 WHERE idempotency_keys.created < now() - make_interval(secs => %(retention_seconds)s)
RETURNING true AS claimed;

-- name: stored_reply
SELECT request_hash, status, body
  FROM idempotency_keys
 WHERE user_id = %(user_id)s AND key = %(key)s;

-- name: store_reply
UPDATE idempotency_keys
   SET status = %(status)s, body = %(body)s
 WHERE user_id = %(user_id)s AND key = %(key)s;

-- name: prune_idempotency_keys
DELETE FROM idempotency_keys WHERE created < now() - make_interval(secs => %(retention_seconds)s);
