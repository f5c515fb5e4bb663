-- Readiness checks.

-- name: applied_migrations
SELECT migration_id FROM _yoyo_migration;
