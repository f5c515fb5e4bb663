-- The role the service and the worker connect as: it may read and write the
-- rows of every table, use their sequences and call the functions, and
-- nothing else (no CREATE, ALTER, DROP or TRUNCATE). The schema belongs to
-- the owner, POSTGRES_USER, which applies the migrations (yoyo) and takes the
-- backups.
--
-- Run by the postgres image on its first start (copied into
-- /docker-entrypoint-initdb.d: as POSTGRES_USER, on POSTGRES_DB, before any
-- migration), and safe to run again by hand on an existing database: it
-- creates the role or sets its password, grants on what exists, and makes
-- the owner's future tables, sequences and functions (the migrations) grant
-- the same. tests/deploy/test_roles.py runs this very file.
--
-- A psql script (psql 15 or newer, for \getenv). The names and the password
-- come from the environment (.envs/*/.postgres), never from a command line:
--   POSTGRES_USER           the owner
--   POSTGRES_APP_USER       the service's role
--   POSTGRES_APP_PASSWORD   its password

\set ON_ERROR_STOP on
\set QUIET on

\getenv owner POSTGRES_USER
\getenv app_user POSTGRES_APP_USER
\getenv app_password POSTGRES_APP_PASSWORD
\if :{?owner}
\else
    \set owner ''
\endif
\if :{?app_user}
\else
    \set app_user ''
\endif
\if :{?app_password}
\else
    \set app_password ''
\endif

SELECT :'owner' <> '' AND :'app_user' <> '' AND :'app_password' <> '' AND :'app_user' <> :'owner' AS settings_ok,
       current_database() AS dbname
\gset
\if :settings_ok
\else
    \warn 'app-role.sql: set POSTGRES_USER, POSTGRES_APP_USER (another role than POSTGRES_USER) and POSTGRES_APP_PASSWORD'
    DO $$ BEGIN RAISE EXCEPTION 'app-role.sql: settings missing'; END $$;
\endif

-- The role, or a new password for it (format() quotes the name and the password).
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user')
UNION ALL
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
 WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user')
\gexec

-- A role that existed before must not be more than that either.
SELECT NOT (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls
            OR pg_has_role(oid, :'owner', 'MEMBER')) AS app_role_ok
  FROM pg_roles WHERE rolname = :'app_user'
\gset
\if :app_role_ok
\else
    \warn 'app-role.sql: the existing role' :"app_user" 'has attributes or memberships the service must not have'
    DO $$ BEGIN RAISE EXCEPTION 'app-role.sql: the role is not a plain login role'; END $$;
\endif

BEGIN;

GRANT CONNECT ON DATABASE :"dbname" TO :"app_user";
-- Nobody else creates objects in the schema (PostgreSQL 15 and newer already
-- grant CREATE to the schema's owner only; older versions to everyone).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_user";

-- What exists: an existing database, or one restored from a backup.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_user";
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO :"app_user";
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO :"app_user";

-- What the owner creates later: every migration.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT EXECUTE ON FUNCTIONS TO :"app_user";

COMMIT;

\echo 'app-role.sql:' :"app_user" 'reads and writes the tables of' :"owner" 'in' :"dbname"
