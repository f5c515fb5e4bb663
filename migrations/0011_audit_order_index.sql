-- depends: 0010_list_access_paths
-- The audit log's list order (at DESC, id DESC), so a page of it costs a
-- page at any depth: without it every page sorted the whole log.
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
