-- depends: 0010_list_access_paths
-- The staff lists' orders, so a page of them costs a page at any depth:
-- the audit log (at DESC, id DESC) and users (date_joined DESC, id DESC).
-- Without them every page sorted the whole table.
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX users_date_joined_idx ON users (date_joined DESC, id DESC);
