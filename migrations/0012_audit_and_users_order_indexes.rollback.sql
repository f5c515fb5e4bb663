DROP INDEX users_date_joined_idx;
DROP INDEX audit_log_at_idx;
