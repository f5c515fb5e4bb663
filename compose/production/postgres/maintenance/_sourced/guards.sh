#!/usr/bin/env bash
# Checks shared by the maintenance scripts (sourced, not run; needs messages.sh).

# As in cookiecutter-django: backups are taken and restored as the database's
# own role (POSTGRES_USER, which the postgres image creates as the owner of
# POSTGRES_DB), never as the cluster's `postgres` role. A restore recreates the
# database owned by the role that runs it, so running it as `postgres` would
# leave the application's database owned by `postgres`.
refuse_postgres_role() {
    if [[ "${POSTGRES_USER}" == "postgres" ]]; then
        message_error "Working as the 'postgres' user is not supported. Set POSTGRES_USER (.envs/*/.postgres) to the application's own role and try again."
        exit 1
    fi
}
