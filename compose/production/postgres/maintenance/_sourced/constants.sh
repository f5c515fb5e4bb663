#!/usr/bin/env bash
# Settings shared by the maintenance scripts (sourced, not run).
#
# Connection: POSTGRES_HOST (default localhost), POSTGRES_PORT (default 5432),
# POSTGRES_USER and POSTGRES_DB (required), POSTGRES_PASSWORD (optional with
# trust auth). Backups go to BACKUP_DIR (default /backups, the
# *_postgres_data_backups volume in the compose files).

# shellcheck disable=SC2034  # used by the scripts that source this file
BACKUP_DIR_PATH="${BACKUP_DIR:-/backups}"
# shellcheck disable=SC2034
BACKUP_FILE_PREFIX='backup'

# libpq reads these, so pg_dump, psql, createdb and dropdb need no options.
export PGHOST="${POSTGRES_HOST:-localhost}"
export PGPORT="${POSTGRES_PORT:-5432}"
export PGUSER="${POSTGRES_USER:?POSTGRES_USER must be set}"
export PGDATABASE="${POSTGRES_DB:?POSTGRES_DB must be set}"
if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
    export PGPASSWORD="${POSTGRES_PASSWORD}"
fi
